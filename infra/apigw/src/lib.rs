//! API Gateway's HTTP API, payload format 2.0, as the infra crates need it: the one emulation
//! that both the local stack (`calbridge-dev`) and the Runtime-API harness (`lambda-e2e`) put
//! between a client and a function.
//!
//! In AWS, an HTTP API picks the route for a request by method and path, runs the JWT
//! authorizer on routes that have one, hands the function a JSON event (payload format 2.0)
//! and turns the function's JSON answer back into an HTTP response. This crate owns the parts
//! of that which do not depend on who calls it:
//!
//! - [`route`]: route patterns (`/appointments/{id}/sync`), matching a path against them with
//!   path parameters decoded as API Gateway decodes them, and the most specific route winning.
//! - [`event`]: the request as the client sent it ([`Request`]), the deployment's identity
//!   ([`Api`]: account, API id, domain, client address) and the event built from both.
//! - [`response`]: the function's answer made an HTTP response, and API Gateway's own answers
//!   when no function runs ([`GatewayError`]).
//!
//! # Contract
//!
//! Emulated, as AWS documents and behaves: header names lower-cased and repeated headers joined
//! with commas; every `Cookie` header moved out of `headers` into `cookies`, one entry per
//! cookie; repeated query parameters joined with commas in `queryStringParameters`, with
//! `rawQueryString` as sent; path parameters one segment each, percent-decoded, an empty
//! segment never matching; `host` and `x-forwarded-*` added; a body that is not UTF-8 sent
//! base64-encoded with `isBase64Encoded`; the verified claims, as strings, under
//! `requestContext.authorizer.jwt.claims` on JWT routes only; in answers, `cookies` become
//! `Set-Cookie` headers, base64 bodies are decoded, and an answer without `statusCode` is a
//! 200 `application/json` response of the answer itself.
//!
//! Not emulated: greedy `{proxy+}` parameters, `ANY` and `$default` routes, stages other than
//! `$default`, stage variables, custom domain API mappings, mutual TLS, CORS (a function's own
//! headers pass through), request size limits other than [`MAX_BODY_BYTES`], the integration
//! timeout, binary detection by content type (a body is base64-encoded exactly when it is not
//! UTF-8), and verifying tokens: callers check a JWT their own way and pass the claims in.
//! `rawPath` is the path as the client sent it, still percent-encoded; reports of live HTTP
//! APIs say AWS may deliver it decoded, which no calbridge handler relies on either way.

pub mod event;
pub mod response;
pub mod route;

#[cfg(test)]
mod lambda_http_reads_the_events;
#[cfg(test)]
mod test_support;

pub use event::{Api, MAX_BODY_BYTES, Request};
pub use response::{AnswerError, GatewayError, http_response};
pub use route::{Match, PathParameters, PathPattern, PatternError, Route, select};
