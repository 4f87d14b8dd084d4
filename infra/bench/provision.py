"""Creates what the benchmark needs on moto (MOTO_ENDPOINT): a KMS key, the Google client
secret in Secrets Manager (as GOOGLE_SECRET_ARN expects it) and the table (calbridge's
pk/sk schema). Prints `export KMS_KEY_ID=... GOOGLE_SECRET_ARN=...` for run.sh to eval.
Runs with the .venv python (moto's environment ships boto3)."""

import base64
import os

import boto3

endpoint = os.environ["MOTO_ENDPOINT"]
kms = boto3.client("kms", endpoint_url=endpoint)
key = kms.create_key(Description="calbridge-bench")["KeyMetadata"]["KeyId"]
secret = '{"google_client_secret": "calbridge-local-secret", "state_signing_key": "%s"}' % base64.b64encode(
    os.urandom(32)
).decode()
arn = boto3.client("secretsmanager", endpoint_url=endpoint).create_secret(
    Name="calbridge-bench-google", SecretString=secret
)["ARN"]
boto3.client("dynamodb", endpoint_url=endpoint).create_table(
    TableName=os.environ["TABLE_NAME"],
    BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
)
print(f"export KMS_KEY_ID={key} GOOGLE_SECRET_ARN={arn}")
