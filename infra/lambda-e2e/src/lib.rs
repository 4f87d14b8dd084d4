//! The deployed shape of calbridge, offline: the real function binaries, configured only from
//! `template.yaml`, running behind a stand-in for the Lambda Runtime API, against moto (DynamoDB,
//! KMS, Secrets Manager) and the Google emulator.
//!
//! In AWS, Lambda starts `bootstrap` with the environment the template gives it and
//! `AWS_LAMBDA_RUNTIME_API` pointing at the runtime API, from which the binary pulls events and
//! to which it posts responses. The tests here do the same with the binaries cargo builds for
//! this machine, so a passing run shows that each binary boots from its template configuration
//! alone, makes no network call before its first event, and serves the API Gateway events of
//! the routes the template assigns it.

pub mod aws;
pub mod binaries;
pub mod gateway;
pub mod policy;
pub mod runtime_api;
pub mod scripts;
pub mod stack;
pub mod template;
