//! `infra/scripts/put-google-secret.sh`, the one step of a deployment that writes a secret, run
//! for real: the AWS CLI against moto's Secrets Manager, and the value it writes read back by
//! calbridge's own Secrets Manager adapter, as the functions read it in AWS.
//!
//! Needs `MOTO_ENDPOINT` and the AWS CLI that `infra/scripts/deploy-checks.sh` installs into
//! `.venv` (both provided by `infra/scripts/test.sh`); without them these tests fail, naming
//! what is missing.

use std::process::Output;

use calbridge::adapters::secrets_manager::SecretsManagerSource;
use calbridge::ports::SecretSource;
use lambda_e2e::aws::{self, moto_endpoint};
use secrecy::ExposeSecret;

fn put_google_secret(args: &[&str], client_secret: Option<&str>) -> Output {
    let mut command = lambda_e2e::scripts::command("put-google-secret.sh");
    command.args(args);
    if let Some(secret) = client_secret {
        command.env("GOOGLE_CLIENT_SECRET", secret);
    }
    command.output().expect("put-google-secret.sh runs")
}

fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

async fn stored(arn: &str) -> (String, Vec<u8>) {
    let source = SecretsManagerSource::new(
        aws::secrets_manager_client(&moto_endpoint()),
        arn,
        &[calbridge::domain::Provider::Google],
    );
    let secrets = source.load().await.unwrap_or_else(|e| panic!("calbridge cannot read what the script wrote: {e}"));
    (
        secrets.client_secret(calbridge::domain::Provider::Google).unwrap().expose_secret().to_owned(),
        secrets.state_signing_key.expose_secret().clone(),
    )
}

async fn new_empty_secret() -> String {
    let name = format!("calbridge-e2e/google-oauth-{}", calbridge::crypto::random::token());
    let created = aws::secrets_manager_client(&moto_endpoint())
        .create_secret()
        .name(name)
        .send()
        .await
        .expect("moto creates the secret");
    created.arn.expect("an ARN")
}

#[tokio::test]
async fn writes_the_client_secret_and_a_signing_key_that_calbridge_reads() {
    // given the stack's secret, created by the template with no value
    let arn = new_empty_secret().await;

    // when the operator stores the client secret
    let first = put_google_secret(&["--secret-id", &arn], Some("client-secret-one"));

    // then calbridge reads both values, and the secret itself was never printed
    assert!(first.status.success(), "{}", printed(&first));
    assert!(!printed(&first).contains("client-secret-one"), "{}", printed(&first));
    assert!(printed(&first).contains("generated a new state_signing_key"), "{}", printed(&first));
    let (client_secret, key) = stored(&arn).await;
    assert_eq!(client_secret, "client-secret-one");
    assert_eq!(key.len(), 32, "a 32-byte state-signing key");

    // when the client secret changes: the signing key stays (consents in flight keep working)
    let second = put_google_secret(&["--secret-id", &arn], Some("client-secret-two"));
    assert!(second.status.success(), "{}", printed(&second));
    assert_eq!(stored(&arn).await, ("client-secret-two".to_owned(), key.clone()));

    // when the operator rotates the signing key: a new one, the client secret unchanged
    let rotated = put_google_secret(&["--secret-id", &arn, "--rotate-signing-key"], Some("client-secret-two"));
    assert!(rotated.status.success(), "{}", printed(&rotated));
    let (client_secret, rotated_key) = stored(&arn).await;
    assert_eq!(client_secret, "client-secret-two");
    assert_eq!(rotated_key.len(), 32);
    assert_ne!(rotated_key, key);
}

#[tokio::test]
async fn refuses_to_run_without_a_client_secret_or_a_terminal_and_writes_nothing() {
    let arn = new_empty_secret().await;
    let output = put_google_secret(&["--secret-id", &arn], None);
    assert!(!output.status.success());
    assert!(printed(&output).contains("set GOOGLE_CLIENT_SECRET or run interactively"), "{}", printed(&output));
    let current = aws::secrets_manager_client(&moto_endpoint()).get_secret_value().secret_id(&arn).send().await;
    assert!(current.is_err(), "a value was written: {current:?}");
}

#[tokio::test]
async fn an_unknown_secret_is_an_error_that_names_it() {
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:calbridge-e2e/missing-AbCdEf";
    let output = put_google_secret(&["--secret-id", arn], Some("client-secret"));
    assert!(!output.status.success(), "{}", printed(&output));
    assert!(printed(&output).contains(&format!("cannot write {arn}")), "{}", printed(&output));
    assert!(printed(&output).contains("ResourceNotFoundException"), "{}", printed(&output));
    assert!(!printed(&output).contains("client-secret\n"), "{}", printed(&output));
}
