"""moto_server, with DynamoDB's per-request atomicity.

DynamoDB applies every item write, and its condition, atomically: of two concurrent
`UpdateItem ... ADD calls` whose condition holds before either runs, the second sees the
first's effect. moto 5 checks the condition and then writes, in a threaded server, with no
lock, so two concurrent requests can both pass a condition only one of them should. The store
contract (shared/tests/common/store_contract.rs) checks that concurrent spends, leases and
single-use flows never grant twice; against unlocked moto those checks fail at random, for
moto's reason and not calbridge's (seen: 8 of 12 concurrent spends granted under a limit of 7).

This launcher runs moto_server unchanged (same arguments) after putting every DynamoDB backend
operation that reads or writes items under one lock, which is the guarantee DynamoDB gives.
infra/scripts/moto.sh starts moto through it.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)

_LOCK = threading.RLock()


def _locked(operation):
    @functools.wraps(operation)
    def run(self, *args, **kwargs):
        with _LOCK:
            return operation(self, *args, **kwargs)

    return run


for name in ITEM_OPERATIONS:
    operation = getattr(DynamoDBBackend, name, None)
    if operation is None:
        sys.exit(f"moto_atomic: moto's DynamoDBBackend has no {name}(); update ITEM_OPERATIONS for this moto")
    setattr(DynamoDBBackend, name, _locked(operation))

if __name__ == "__main__":
    main(sys.argv[1:])
