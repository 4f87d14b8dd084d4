//! A calbridge stack "deployed" on this machine from `template.yaml`: moto stands in for
//! DynamoDB, KMS and Secrets Manager, the Google emulator for Google, a [`LambdaProcess`] per
//! function for Lambda, and [`DeployedStack::api`] for API Gateway, routing by the template's
//! own route table.
//!
//! Each function gets the environment the template gives it, evaluated with this deployment's
//! parameters and resources, plus only what Lambda itself sets and the test plumbing that has
//! no place in a template: `AWS_ENDPOINT_URL` (moto, through a connection counter), dummy
//! credentials, and the `GOOGLE_*_URL` endpoint overrides that point at the emulator. Before a
//! binary starts, `calbridge::config::Config` must accept the template's variables alone.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use google_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};

use crate::aws::{self, AwsCall, RecordingProxy, StackResources};
use crate::binaries;
use crate::gateway::{self, ApiRequest, ApiResponse, Authorizer};
use crate::policy::{self, PhysicalIds};
use crate::runtime_api::{ColdStart, LambdaProcess, Outcome};
use crate::template::{Deployment, Evaluator, FunctionSpec, Route, SamTemplate};

pub const STACK_NAME: &str = "calbridge-e2e";
pub const ACCOUNT_ID: &str = "123456789012";
pub const API_ID: &str = "e2eapi0001";

/// The parameters of this test deployment, as `sam deploy --parameter-overrides` would give
/// them. The tenant claim is deliberately not the default, so the test proves it flows.
pub fn parameters() -> HashMap<String, String> {
    HashMap::from(
        [
            ("JwtIssuerUrl", "https://issuer.example.com/"),
            ("JwtAudience", "calbridge-app"),
            ("TenantClaim", "org_id"),
            ("AllowedOrigins", "https://app.example.com"),
            ("AllowedReturnTo", "https://app.example.com/integrations/google,myapp://integrations"),
            ("GoogleClientId", "calbridge-e2e-0001.apps.googleusercontent.com"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
}

pub fn template_path() -> PathBuf {
    binaries::workspace_root().join("template.yaml")
}

pub fn load_template() -> SamTemplate {
    SamTemplate::load(&template_path()).unwrap_or_else(|e| panic!("{e}"))
}

/// The deployment (parameters and physical ids) for `resources`.
pub fn deployment(resources: &StackResources) -> Deployment {
    Deployment {
        stack_name: STACK_NAME.to_owned(),
        region: aws::REGION.to_owned(),
        account_id: ACCOUNT_ID.to_owned(),
        parameters: parameters(),
        refs: HashMap::from(
            [
                ("TokenTable", resources.table_name.as_str()),
                ("TokenKey", resources.key_id.as_str()),
                ("GoogleSecret", resources.secret_arn.as_str()),
                ("HttpApi", API_ID),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        ),
        attributes: HashMap::from([(("TokenKey".to_owned(), "Arn".to_owned()), resources.key_arn.clone())]),
    }
}

/// One function of the stack, running.
pub struct DeployedFunction {
    pub spec: FunctionSpec,
    pub process: LambdaProcess,
    /// From process start to its first request for an event.
    pub cold_start: Duration,
    /// Everything it sends to AWS goes through here, and is recorded.
    pub aws: RecordingProxy,
    /// Emulator calls counted while it started (must be none).
    pub google_calls_during_init: u64,
}

pub struct DeployedStack {
    pub template: SamTemplate,
    pub deployment: Deployment,
    pub resources: StackResources,
    pub emulator: RunningEmulator,
    pub routes: Vec<Route>,
    pub functions: BTreeMap<String, DeployedFunction>,
    pub authorizer: Authorizer,
    /// The API's host, from the redirect URI the template gives the functions.
    pub domain: String,
    pub http: reqwest::Client,
}

/// Emulator endpoints, as calbridge's `GOOGLE_*_URL` variables name them.
pub fn google_endpoint_overrides(emulator: &str) -> [(&'static str, String); 6] {
    [
        ("GOOGLE_AUTH_URL", format!("{emulator}/o/oauth2/v2/auth")),
        ("GOOGLE_TOKEN_URL", format!("{emulator}/token")),
        ("GOOGLE_REVOKE_URL", format!("{emulator}/revoke")),
        ("GOOGLE_USERINFO_URL", format!("{emulator}/v1/userinfo")),
        ("GOOGLE_CALENDAR_API_URL", format!("{emulator}/calendar/v3")),
        ("GOOGLE_JWKS_URL", format!("{emulator}/oauth2/v3/certs")),
    ]
}

/// What Lambda itself puts in every function's environment (provided.al2023, JSON logs).
pub fn lambda_environment(spec: &FunctionSpec) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("_HANDLER", spec.handler.clone());
    set("AWS_REGION", aws::REGION.to_owned());
    set("AWS_DEFAULT_REGION", aws::REGION.to_owned());
    set("AWS_LAMBDA_FUNCTION_NAME", spec.function_name.clone());
    set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string());
    set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned());
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned());
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        spec.log_group.clone().unwrap_or_else(|| format!("/aws/lambda/{}", spec.function_name)),
    );
    set("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]e2e".to_owned());
    if let Some(format) = &spec.log_format {
        set("AWS_LAMBDA_LOG_FORMAT", format.clone());
    }
    if let Some(level) = &spec.application_log_level {
        set("AWS_LAMBDA_LOG_LEVEL", level.clone());
    }
    set("AWS_ACCESS_KEY_ID", aws::ACCESS_KEY_ID.to_owned());
    set("AWS_SECRET_ACCESS_KEY", aws::SECRET_ACCESS_KEY.to_owned());
    set("AWS_SESSION_TOKEN", "e2e-session".to_owned());
    set("LAMBDA_TASK_ROOT", "/var/task".to_owned());
    set("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned());
    set("LANG", "en_US.UTF-8".to_owned());
    set("TZ", ":UTC".to_owned());
    set("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned());
    env
}

/// Checks that calbridge's configuration accepts `template_env` alone.
pub fn check_template_configuration(spec: &FunctionSpec) {
    let env = &spec.environment;
    if let Err(error) = calbridge::config::Config::from_lookup(|name| env.get(name).cloned()) {
        panic!(
            "template.yaml does not give {} ({}) what shared/src/config.rs requires: {error}",
            spec.logical_id, spec.package
        );
    }
}

impl DeployedStack {
    /// Creates the resources, starts the emulator and starts `packages` (function packages) from
    /// their template definitions, each through its cold start.
    pub async fn deploy(packages: &[&str]) -> Self {
        Self::deploy_with(packages, &[]).await
    }

    /// [`deploy`](Self::deploy) with some template parameters set (e.g. `LogLevel`).
    pub async fn deploy_with(packages: &[&str], parameters: &[(&str, &str)]) -> Self {
        let moto = aws::moto_endpoint();
        let template = load_template();
        let resources = aws::create_stack_resources(&moto, STACK_NAME).await;
        let mut deployment = deployment(&resources);
        deployment.parameters.extend(parameters.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let evaluator = Evaluator { template: &template, deployment: &deployment };
        let routes = evaluator.routes().unwrap_or_else(|e| panic!("{e}"));
        let specs: Vec<FunctionSpec> = evaluator.functions().unwrap_or_else(|e| panic!("{e}"));

        let redirect_uri = evaluator.output("GoogleRedirectUri").unwrap_or_else(|e| panic!("{e}"));
        let domain = url::Url::parse(&redirect_uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("the GoogleRedirectUri output {redirect_uri} has no host"));

        let emulator = RunningEmulator::start(EmulatorConfig::default(), "127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the Google emulator starts");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
        let client_id = &deployment.parameters["GoogleClientId"];
        let registered = http
            .post(format!("{}/_emulator/clients", emulator.base_url()))
            .json(&json!({
                "client_id": client_id,
                "client_secret": aws::GOOGLE_CLIENT_SECRET,
                "redirect_uris": [redirect_uri],
            }))
            .send()
            .await
            .expect("the emulator answers");
        assert!(registered.status().is_success(), "registering the OAuth client: {}", registered.status());

        let binaries = tokio::task::spawn_blocking({
            let packages: Vec<String> = packages.iter().map(|p| (*p).to_owned()).collect();
            move || binaries::function_binaries(&packages.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .expect("the build task runs")
        .unwrap_or_else(|e| panic!("{e}"));

        let parameters = &deployment.parameters;
        let authorizer = Authorizer {
            issuer: parameters["JwtIssuerUrl"].clone(),
            audience: parameters["JwtAudience"].split(',').next().unwrap_or_default().trim().to_owned(),
            tenant_claim: parameters["TenantClaim"].clone(),
        };
        let mut stack = DeployedStack {
            template: template.clone(),
            deployment: deployment.clone(),
            resources,
            emulator,
            routes,
            functions: BTreeMap::new(),
            authorizer,
            domain,
            http,
        };
        for package in packages {
            let spec = specs
                .iter()
                .find(|s| s.package == *package)
                .unwrap_or_else(|| panic!("template.yaml has no function built from functions/{package}"))
                .clone();
            check_template_configuration(&spec);
            let function = stack.start_function(spec, &binaries[*package], &moto, |_| {}).await;
            let function = function.unwrap_or_else(|failure| panic!("{failure}"));
            stack.functions.insert((*package).to_owned(), function);
        }
        stack
    }

    pub fn emulator_url(&self) -> String {
        self.emulator.base_url()
    }

    /// The full environment `spec`'s process runs with; `adjust` may change it (tests of
    /// misconfiguration).
    pub fn process_environment(&self, spec: &FunctionSpec, aws_endpoint: &str) -> BTreeMap<String, String> {
        let mut env = lambda_environment(spec);
        env.extend(spec.environment.clone());
        env.insert("AWS_ENDPOINT_URL".into(), aws_endpoint.to_owned());
        for (name, value) in google_endpoint_overrides(&self.emulator_url()) {
            env.insert(name.to_owned(), value);
        }
        env
    }

    /// Starts one function and waits for its cold start. `Err` carries what it printed.
    pub async fn start_function(
        &self,
        spec: FunctionSpec,
        binary: &std::path::Path,
        moto: &str,
        adjust: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<DeployedFunction, String> {
        let proxy = RecordingProxy::start(moto).await.expect("the AWS proxy starts");
        let mut env = self.process_environment(&spec, &proxy.endpoint());
        adjust(&mut env);
        let arn = format!("arn:aws:lambda:{}:{ACCOUNT_ID}:function:{}", aws::REGION, spec.function_name);
        let calls_before = self.emulator_call_total().await;
        let process = LambdaProcess::spawn(binary, &env, arn).await.expect("the function process starts");
        match process.cold_start(Duration::from_secs(60)).await {
            ColdStart::Ready(cold_start) => {
                let google_calls_during_init = self.emulator_call_total().await - calls_before;
                Ok(DeployedFunction { spec, process, cold_start, aws: proxy, google_calls_during_init })
            }
            ColdStart::Failed { status, init_error, output } => Err(format!(
                "{} did not finish its cold start (status {status:?}, init error {init_error:?}); its output:\n{output}",
                spec.package
            )),
        }
    }

    /// Total calls the emulator counted (its control endpoints are not counted).
    pub async fn emulator_call_total(&self) -> u64 {
        let calls = self.emulator_state("calls").await;
        calls.as_object().map(|c| c.values().filter_map(Value::as_u64).sum()).unwrap_or(0)
    }

    /// GETs an emulator control endpoint (`calls`, `tokens`, `calendars/{account}/events`, ...).
    pub async fn emulator_state(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/_emulator/{path}", self.emulator_url()))
            .send()
            .await
            .expect("the emulator answers");
        assert!(response.status().is_success(), "emulator {path}: {}", response.status());
        response.json().await.expect("emulator state is JSON")
    }

    /// POSTs JSON to an emulator control endpoint, asserting success.
    pub async fn emulator_control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_emulator/{path}", self.emulator_url()))
            .json(&body)
            .send()
            .await
            .expect("the emulator answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "emulator {path}: {status} {body}");
        body
    }

    pub fn function(&self, package: &str) -> &DeployedFunction {
        self.functions.get(package).unwrap_or_else(|| panic!("{package} is not running in this stack"))
    }

    /// Sends `request` through the API as API Gateway would: the template's route table picks
    /// the function, routes with the JWT authorizer refuse a request without a token (401,
    /// the function is not invoked), and the function's answer becomes the HTTP response.
    pub async fn api(&self, request: ApiRequest) -> ApiResponse {
        self.api_within(request, None).await
    }

    /// [`Self::api`] with an invocation deadline of `limit` from now instead of the function's
    /// timeout: how a test makes a function run short of time without waiting 29 s.
    pub async fn api_within(&self, request: ApiRequest, limit: Option<Duration>) -> ApiResponse {
        let Some(taken) = apigw::select(&self.routes, &request.method, &request.path) else {
            return apigw::GatewayError::NotFound.response().into();
        };
        let route = taken.route;
        if route.jwt && request.caller.is_none() {
            return apigw::GatewayError::Unauthorized.response().into();
        }
        let function = self.functions.values().find(|f| f.spec.function_name == route.target).unwrap_or_else(|| {
            panic!("{} is served by {}, which this test did not start", route.route_key(), route.target)
        });
        let event =
            gateway::api_gateway_event(route, &taken.parameters, &request, API_ID, &self.domain, &self.authorizer);
        let limit = limit.unwrap_or(Duration::from_secs(function.spec.timeout_seconds.max(1)));
        match function.process.invoke(event, limit).await {
            Ok(Outcome::Response(answer)) => gateway::http_response(&answer).unwrap_or_else(|e| {
                panic!(
                    "{} answered something API Gateway cannot use ({e}); output:\n{}",
                    function.spec.package,
                    function.process.output()
                )
            }),
            Ok(Outcome::Error(error)) => panic!(
                "{} reported an invocation error for {}: {error}; output:\n{}",
                function.spec.package,
                route.route_key(),
                function.process.output()
            ),
            Err(failure) => panic!(
                "{} failed on {}: {failure}; output:\n{}",
                function.spec.package,
                route.route_key(),
                function.process.output()
            ),
        }
    }

    /// Delivers a non-HTTP event (EventBridge) to a function, as an asynchronous invocation would.
    pub async fn invoke(&self, package: &str, event: Value) -> Outcome {
        let function = self.function(package);
        let limit = Duration::from_secs(function.spec.timeout_seconds.max(1));
        function.process.invoke(event, limit).await.unwrap_or_else(|failure| {
            panic!("{package} failed on an event: {failure}; output:\n{}", function.process.output())
        })
    }

    /// The stack's physical resource ids, mapped to the template's logical ids.
    pub fn physical_ids(&self) -> PhysicalIds {
        let r = &self.resources;
        PhysicalIds(BTreeMap::from(
            [
                (r.table_name.clone(), "TokenTable"),
                (r.key_id.clone(), "TokenKey"),
                (r.key_arn.clone(), "TokenKey"),
                (r.secret_arn.clone(), "GoogleSecret"),
            ]
            .map(|(physical, logical)| (physical, logical.to_owned())),
        ))
    }

    /// Every AWS request each running function sent that its IAM permissions in the template
    /// would refuse, as `(function, request)`.
    pub fn requests_iam_would_refuse(&self) -> Vec<(String, AwsCall)> {
        let ids = self.physical_ids();
        let mut refused = Vec::new();
        for function in self.functions.values() {
            for call in function.aws.calls() {
                let allowed = policy::allows(&self.template, &function.spec.logical_id, &call, &ids)
                    .unwrap_or_else(|e| panic!("{e}"));
                if !allowed {
                    refused.push((function.spec.package.clone(), call));
                }
            }
        }
        refused
    }

    pub async fn shutdown(self) {
        let DeployedStack { functions, emulator, .. } = self;
        drop(functions);
        emulator.shutdown().await;
    }
}
