//! Sealing and opening a token record: the crypto on every write and every read of a connection.
//!
//! The record is a realistic Google token pair (a ~200-character access token, a ~100-character
//! refresh token, an expiry), sealed and opened through `tokens::seal` / `tokens::open` exactly
//! as the stores do, with the local key provider standing in for KMS (an in-process AES-GCM
//! wrap, so the numbers are calbridge's own CPU cost; a real KMS round trip adds network time).
//! Three cases:
//! - `seal`: fresh data key, JSON encode, AES-256-GCM encrypt (every token write), on a vault
//!   whose data-key cache is full (the steady state of a long-lived container; every seal then
//!   also evicts);
//! - `seal/fresh_vault`: the same on a new vault, whose cache has room;
//! - `open/warm`: the data key is in the vault's cache (a warm container's read);
//! - `open/cold`: a new vault per read, so the data key is unwrapped first (a cold read).

use std::hint::black_box;
use std::sync::Arc;

use calbridge::adapters::local_key::LocalKeyProvider;
use calbridge::crypto::tokens::{self, StoredTokens};
use calbridge::crypto::vault::Vault;
use calbridge::domain::{ConnectionKey, TenantId, UserId};
use criterion::{Criterion, criterion_group, criterion_main};
use oauth2::{AccessToken, RefreshToken};

fn record() -> StoredTokens {
    StoredTokens {
        access_token: AccessToken::new(format!("ya29.{}", "a0AfB_byC".repeat(22))),
        refresh_token: RefreshToken::new(format!("1//{}", "0gLx9Qe7Zk".repeat(10))),
        access_token_expires_at: Some("2030-01-01T10:00:00Z".parse().unwrap()),
    }
}

fn bench_token_record(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let keys = Arc::new(LocalKeyProvider::new([7u8; 32]));
    let key = ConnectionKey::new(
        TenantId::parse("tenant-1").unwrap(),
        UserId::parse("user-1").unwrap(),
        calbridge::domain::Provider::Google,
    );
    let tokens = record();
    let vault = Vault::new(keys.clone());
    let sealed = runtime.block_on(tokens::seal(&vault, &key, &tokens)).unwrap();

    let mut group = c.benchmark_group("token_record");
    group.bench_function("seal", |b| {
        b.iter(|| runtime.block_on(tokens::seal(black_box(&vault), black_box(&key), black_box(&tokens))).unwrap())
    });
    group.bench_function("seal/fresh_vault", |b| {
        b.iter_batched(
            || Vault::new(keys.clone()),
            |fresh| runtime.block_on(tokens::seal(&fresh, black_box(&key), black_box(&tokens))).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("open/warm", |b| {
        b.iter(|| runtime.block_on(tokens::open(black_box(&vault), black_box(&key), black_box(&sealed))).unwrap())
    });
    group.bench_function("open/cold", |b| {
        b.iter_batched(
            || Vault::new(keys.clone()),
            |cold| runtime.block_on(tokens::open(&cold, black_box(&key), black_box(&sealed))).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_token_record);
criterion_main!(benches);
