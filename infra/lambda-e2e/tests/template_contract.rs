//! template.yaml against the code it deploys, without AWS: the route table, the functions'
//! build and runtime settings, and the environment each function gets.

use std::collections::{BTreeSet, HashMap};

use lambda_e2e::binaries::workspace_root;
use lambda_e2e::gateway::{ApiRequest, Authorizer, api_gateway_event};
use lambda_e2e::stack::{check_template_configuration, load_template};
use lambda_e2e::template::{Deployment, Evaluator, FunctionSpec, Route, SamTemplate};
use serde_json::Value;

/// The HTTP contract: (method, path, package, JWT).
const ROUTES: [(&str, &str, &str, bool); 22] = [
    ("POST", "/connections/{provider}/authorize", "auth-start", true),
    ("GET", "/connections/{provider}/launch", "auth-start", false),
    ("POST", "/connections/{provider}/launch", "auth-start", false),
    ("GET", "/connections/{provider}/callback", "auth-callback", false),
    ("GET", "/connections/{provider}", "disconnect", true),
    ("DELETE", "/connections/{provider}", "disconnect", true),
    ("GET", "/connections", "disconnect", true),
    ("DELETE", "/users/{user_id}/connections/{provider}", "disconnect", true),
    ("POST", "/webhooks/zoom", "disconnect", false),
    ("GET", "/calendars", "list-calendars", true),
    ("PUT", "/calendars/selected", "list-calendars", true),
    ("POST", "/availability", "get-availability", true),
    ("POST", "/booking-links", "get-availability", true),
    ("DELETE", "/booking-links/{id}", "get-availability", true),
    ("GET", "/booking/{token}/slots", "get-availability", false),
    ("POST", "/appointments/{id}/sync", "sync-appointment", true),
    ("GET", "/appointments/{id}/sync", "sync-appointment", true),
    ("POST", "/sessions/{session_id}/meeting", "create-meet", true),
    ("GET", "/sessions/{session_id}/meeting", "create-meet", true),
    ("DELETE", "/sessions/{session_id}/meeting", "create-meet", true),
    ("GET", "/sessions/{session_id}/meeting/start", "create-meet", true),
    ("POST", "/messages/send", "send-email", true),
];

fn deployment(parameters: &[(&str, &str)]) -> Deployment {
    let mut all = lambda_e2e::stack::parameters();
    all.extend(parameters.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Deployment {
        stack_name: "calbridge".into(),
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
        parameters: all,
        refs: HashMap::from(
            [
                ("TokenTable", "calbridge-TokenTable-ABC"),
                ("TokenKey", "0b1c2d3e-0000-4000-8000-000000000000"),
                ("GoogleSecret", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:calbridge/google-oauth-AbCdEf"),
                ("HttpApi", "a1b2c3d4e5"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        ),
        attributes: HashMap::from([(
            ("TokenKey".to_owned(), "Arn".to_owned()),
            "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-0000-4000-8000-000000000000".to_owned(),
        )]),
    }
}

fn functions(template: &SamTemplate, deployment: &Deployment) -> Vec<FunctionSpec> {
    Evaluator { template, deployment }.functions().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_route_table_is_the_http_contract() {
    let template = load_template();
    let d = deployment(&[]);
    let evaluator = Evaluator { template: &template, deployment: &d };
    let routes = evaluator.routes().unwrap_or_else(|e| panic!("{e}"));
    let specs = functions(&template, &d);
    let package_of = |route: &Route| {
        specs.iter().find(|s| s.function_name == route.target).map(|s| s.package.clone()).unwrap_or_else(|| {
            panic!("{} invokes {}, which is no function of the template", route.route_key(), route.target)
        })
    };
    let actual: BTreeSet<(String, String, String, bool)> =
        routes.iter().map(|r| (r.method.to_string(), r.path.to_string(), package_of(r), r.jwt)).collect();
    let expected: BTreeSet<(String, String, String, bool)> =
        ROUTES.iter().map(|(m, p, f, j)| ((*m).to_owned(), (*p).to_owned(), (*f).to_owned(), *j)).collect();
    assert_eq!(actual, expected);
}

#[test]
fn the_local_stack_serves_the_same_routes_as_the_template() {
    let template = load_template();
    let d = deployment(&[]);
    let routes = Evaluator { template: &template, deployment: &d }.routes().unwrap();
    for local in calbridge_dev::gateway::routes() {
        let in_template = routes
            .iter()
            .find(|r| r.method == local.method.as_str() && r.path == local.path)
            .unwrap_or_else(|| panic!("{} {} is served locally but not in template.yaml", local.method, local.path));
        assert_eq!(
            in_template.jwt, local.jwt,
            "{} {}: JWT differs between template and local stack",
            local.method, local.path
        );
    }
}

#[test]
fn every_function_builds_from_its_package_for_arm64_al2023() {
    let template = load_template();
    let d = deployment(&[]);
    let specs = functions(&template, &d);
    let root = workspace_root();
    let mut packages = BTreeSet::new();
    for spec in &specs {
        assert_eq!(spec.runtime, "provided.al2023", "{}", spec.logical_id);
        assert_eq!(spec.architectures, ["arm64"], "{}", spec.logical_id);
        assert_eq!(spec.handler, "bootstrap", "{}", spec.logical_id);
        assert_eq!(spec.log_format.as_deref(), Some("JSON"), "{}", spec.logical_id);
        assert!(spec.timeout_seconds < 30, "{}: API Gateway gives up after 30 s", spec.logical_id);
        assert_eq!(spec.function_name, format!("calbridge-{}", spec.package), "{}", spec.logical_id);
        let manifest = root.join("functions").join(&spec.package).join("Cargo.toml");
        match std::fs::read_to_string(&manifest) {
            Ok(text) => assert!(
                text.contains(&format!("name = \"{}\"", spec.package)),
                "{} is not the package {}",
                manifest.display(),
                spec.package
            ),
            Err(e) => panic!("{}: {e}", manifest.display()),
        }
        packages.insert(spec.package.clone());
    }
    // And every function package of the workspace is deployed.
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(packages.contains(&name), "functions/{name} is not deployed by template.yaml");
    }
    assert_eq!(packages.len(), 8, "{packages:?}");
}

#[test]
fn every_function_is_configured_completely_by_the_template() {
    let template = load_template();
    for parameters in [vec![], vec![("PublicBaseUrl", "https://api.example.com")]] {
        let d = deployment(&parameters);
        let evaluator = Evaluator { template: &template, deployment: &d };
        let redirect_output = evaluator.output("GoogleRedirectUri").unwrap();
        for spec in functions(&template, &d) {
            // shared/src/config.rs accepts the template's variables alone.
            check_template_configuration(&spec);
            // The redirect URI the functions use is the one the operator registers at Google.
            assert_eq!(spec.environment["GOOGLE_REDIRECT_URI"], redirect_output, "{}", spec.logical_id);
            assert_eq!(spec.environment["TENANT_CLAIM"], "org_id", "{}", spec.logical_id);
            assert_eq!(spec.environment["SERVICE_SCOPE"], "calbridge/service", "{}", spec.logical_id);
            assert_eq!(spec.environment["ALLOW_USER_MEETINGS"], "false", "{}", spec.logical_id);
        }
        let expected = match parameters.first() {
            Some((_, base)) => format!("{base}/connections/google/callback"),
            None => "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/connections/google/callback".to_owned(),
        };
        assert_eq!(redirect_output, expected);
        assert_eq!(evaluator.output("ApiBaseUrl").unwrap(), expected.trim_end_matches("/connections/google/callback"));
    }
}

/// String literals of the Rust files that read the environment.
fn literals_read_by_calbridge() -> BTreeSet<String> {
    let mut literals = BTreeSet::new();
    for file in [
        "shared/src/config/mod.rs",
        "shared/src/config/aws.rs",
        "shared/src/config/google.rs",
        "shared/src/config/zoom.rs",
        "shared/src/runtime.rs",
        "shared/src/metrics.rs",
    ] {
        let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
        for (i, piece) in text.split('"').enumerate() {
            if i % 2 == 1 {
                literals.insert(piece.to_owned());
            }
        }
    }
    literals
}

#[test]
fn every_variable_the_template_sets_is_one_calbridge_reads() {
    // A misspelt optional variable would be ignored silently in AWS.
    let template = load_template();
    let d = deployment(&[]);
    let read = literals_read_by_calbridge();
    for spec in functions(&template, &d) {
        for name in spec.environment.keys() {
            assert!(
                read.contains(name),
                "{}: {name} is set by template.yaml but read nowhere in config.rs",
                spec.logical_id
            );
        }
    }
}

#[test]
fn the_events_the_gateway_builds_have_the_shape_of_the_samples() {
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("events/disconnect/status.json")).unwrap())
            .unwrap();
    let route = Route::new(http::Method::GET, "/connections/{provider}", true, "f".into()).unwrap();
    let authorizer = Authorizer { issuer: "https://i/".into(), audience: "a".into(), tenant_claim: "tenant_id".into() };
    let request = ApiRequest::get("/connections/google").as_caller("clinic-42", "user-7f3a");
    let parameters = [("provider".to_owned(), "google".to_owned())].into();
    let built = api_gateway_event(&route, &parameters, &request, "a1b2c3d4e5", "api.calbridge.example", &authorizer);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&built), keys(&sample));
    assert_eq!(keys(&built["requestContext"]), keys(&sample["requestContext"]));
    assert_eq!(keys(&built["requestContext"]["http"]), keys(&sample["requestContext"]["http"]));
    // Both deserialise as the same kind of request.
    for event in [&built, &sample] {
        let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event");
        assert_eq!(request.uri().path(), "/connections/google");
    }
}

#[test]
fn api_gateway_may_invoke_each_function_for_its_own_routes_only() {
    // One AWS::Lambda::Permission per route: its SourceArn is that route's method and path
    // (path parameters as `*`) on this API, and it names the function the route invokes.
    let template = load_template();
    let d = deployment(&[]);
    let evaluator = Evaluator { template: &template, deployment: &d };
    let specs = functions(&template, &d);
    let mut granted = BTreeSet::new();
    for id in template.resources_of_type("AWS::Lambda::Permission") {
        let properties = &template.resource(id).unwrap()["Properties"];
        assert_eq!(properties["Principal"], "apigateway.amazonaws.com", "{id}");
        assert_eq!(properties["Action"], "lambda:InvokeFunction", "{id}");
        let function = properties["FunctionName"]["Ref"].as_str().unwrap_or_else(|| panic!("{id}: FunctionName"));
        let function_name = &specs.iter().find(|s| s.logical_id == function).unwrap().function_name;
        let source = evaluator.eval_string(&properties["SourceArn"]).unwrap().unwrap();
        let prefix = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/*/";
        let route = source.strip_prefix(prefix).unwrap_or_else(|| panic!("{id}: {source} is not on this API"));
        let (method, path) = route.split_once('/').unwrap();
        granted.insert((method.to_owned(), format!("/{path}"), function_name.clone()));
    }
    let routes = evaluator.routes().unwrap();
    let needed: BTreeSet<(String, String, String)> = routes
        .iter()
        .map(|r| {
            let path: Vec<&str> = r
                .path
                .as_str()
                .split('/')
                .map(|s| if s.starts_with('{') && s.ends_with('}') { "*" } else { s })
                .collect();
            (r.method.to_string(), path.join("/"), r.target.clone())
        })
        .collect();
    assert_eq!(granted, needed);
}

#[test]
fn the_sync_rule_delivers_the_sample_events_to_the_queue_and_the_function_accepts_their_source() {
    let template = load_template();
    let d = deployment(&[]);
    let evaluator = Evaluator { template: &template, deployment: &d };
    let rule = &template.resource("AppointmentChangedRule").unwrap()["Properties"];
    let pattern = evaluator.eval(&rule["EventPattern"]).unwrap().unwrap();
    let spec = evaluator.function("SyncAppointmentFunction").unwrap();
    assert_eq!(pattern["source"], serde_json::json!([spec.environment["APPOINTMENT_EVENT_SOURCE"]]));
    // The rule's only target is the queue; what it cannot deliver reaches its own DLQ.
    let targets = rule["Targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["Arn"]["Fn::GetAtt"], serde_json::json!(["SyncQueue", "Arn"]));
    assert_eq!(targets[0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0], "SyncDeadLetterQueue");
    for queue in ["SyncQueue", "SyncQueueDeadLetterQueue", "SyncDeadLetterQueue"] {
        let properties = &template.resource(queue).unwrap()["Properties"];
        assert_eq!(properties["SqsManagedSseEnabled"], true, "{queue} is encrypted");
    }
    let function = template.function_properties("SyncAppointmentFunction").unwrap();
    assert!(function.get("EventInvokeConfig").is_none(), "nothing invokes sync asynchronously any more");
    let events = function["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "only the queue invokes sync (the HTTP routes are in the API's body)");

    let samples = workspace_root().join("events/sync-appointment");
    let mut delivered = 0;
    for entry in std::fs::read_dir(&samples).unwrap() {
        let path = entry.unwrap().path();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if event.get("detail-type").is_none() {
            continue; // an HTTP request or SQS batch sample
        }
        // EventBridge matching for this pattern's shape: each field's value is one of the listed.
        let matches = pattern.as_object().unwrap().iter().all(|(field, allowed)| {
            allowed
                .as_array()
                .unwrap_or_else(|| panic!("{field}: only lists of values are expected"))
                .contains(&event[field])
        });
        assert!(matches, "the rule would not deliver {}", path.display());
        delivered += 1;
    }
    assert!(delivered >= 5, "only {delivered} EventBridge samples in {}", samples.display());
    let mut foreign: Value =
        serde_json::from_str(&std::fs::read_to_string(samples.join("create.json")).unwrap()).unwrap();
    foreign["source"] = "someone.else".into();
    assert!(!pattern.as_object().unwrap().iter().all(|(f, allowed)| allowed.as_array().unwrap().contains(&foreign[f])));
}

#[test]
fn the_queue_caps_concurrency_reports_item_failures_and_outlives_the_function() {
    let template = load_template();
    let d = deployment(&[]);
    let evaluator = Evaluator { template: &template, deployment: &d };
    let function = template.function_properties("SyncAppointmentFunction").unwrap();
    let mapping = &function["Events"]["SyncQueue"];
    assert_eq!(mapping["Type"], "SQS");
    let properties = &mapping["Properties"];
    assert_eq!(properties["Queue"]["Fn::GetAtt"], serde_json::json!(["SyncQueue", "Arn"]));
    assert_eq!(properties["FunctionResponseTypes"], serde_json::json!(["ReportBatchItemFailures"]));
    let batch = properties["BatchSize"].as_u64().unwrap();
    assert!((1..=10).contains(&batch), "a batch fits one invocation: {batch}");
    assert!(properties["MaximumBatchingWindowInSeconds"].as_u64().unwrap() <= 5);
    let cap = evaluator.eval(&properties["ScalingConfig"]["MaximumConcurrency"]).unwrap().unwrap();
    assert_eq!(cap.to_string().trim_matches('"'), "5", "the SyncMaxConcurrency default");
    let parameter = &template.document["Parameters"]["SyncMaxConcurrency"];
    assert_eq!(parameter["MinValue"], 2, "SQS refuses a MaximumConcurrency below 2");

    // Visibility timeout >= 6 x the function timeout, so no message reappears mid-invocation.
    let timeout =
        function["Timeout"].as_u64().or_else(|| template.document["Globals"]["Function"]["Timeout"].as_u64()).unwrap();
    let queue = &template.resource("SyncQueue").unwrap()["Properties"];
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout, "{queue}");
    let redrive = &queue["RedrivePolicy"];
    assert_eq!(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0], "SyncQueueDeadLetterQueue");
    let receives = redrive["maxReceiveCount"].as_u64().unwrap();
    assert!((5..=50).contains(&receives), "{receives}");
    let dlq = &template.resource("SyncQueueDeadLetterQueue").unwrap()["Properties"];
    assert!(dlq["MessageRetentionPeriod"].as_u64() > queue["MessageRetentionPeriod"].as_u64());

    // Only the rule may send to the queue.
    let policy = &template.resource("SyncQueuePolicy").unwrap()["Properties"]["PolicyDocument"]["Statement"];
    let allow = policy.as_array().unwrap().iter().find(|s| s["Effect"] == "Allow").unwrap();
    assert_eq!(allow["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(allow["Action"], "sqs:SendMessage");
    assert_eq!(allow["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0], "AppointmentChangedRule");

    // Both DLQs and the queue's age alarm notify the alarm topic.
    for (alarm, queue, metric) in [
        ("SyncQueueDeadLetterAlarm", "SyncQueueDeadLetterQueue", "ApproximateNumberOfMessagesVisible"),
        ("SyncDeadLetterAlarm", "SyncDeadLetterQueue", "ApproximateNumberOfMessagesVisible"),
        ("SyncQueueAgeAlarm", "SyncQueue", "ApproximateAgeOfOldestMessage"),
    ] {
        let properties = &template.resource(alarm).unwrap_or_else(|| panic!("{alarm}"))["Properties"];
        assert_eq!(properties["MetricName"], metric, "{alarm}");
        assert_eq!(properties["Dimensions"][0]["Value"]["Fn::GetAtt"][0], queue, "{alarm}");
        assert_eq!(properties["AlarmActions"]["Fn::If"][0], "HasAlarmTopic", "{alarm}");
    }
}

#[test]
fn every_route_is_throttled_and_the_fan_out_and_public_routes_more_tightly() {
    let template = load_template();
    let api = &template.resource("HttpApi").expect("the HTTP API")["Properties"];
    let limits = |settings: &Value| {
        let number = |name: &str| settings[name].as_f64().unwrap_or_else(|| panic!("{name} is set: {settings}"));
        (number("ThrottlingBurstLimit"), number("ThrottlingRateLimit"))
    };
    let (default_burst, default_rate) = limits(&api["DefaultRouteSettings"]);
    assert!(default_burst > 0.0 && default_rate > 0.0);
    let keys: BTreeSet<String> = ROUTES.iter().map(|(method, path, _, _)| format!("{method} {path}")).collect();
    let routes = api["RouteSettings"].as_object().expect("RouteSettings is a map of route keys");
    for (key, settings) in routes {
        assert!(keys.contains(key), "RouteSettings names {key:?}, which is not a route");
        let (burst, rate) = limits(settings);
        assert!(burst <= default_burst && rate <= default_rate, "{key} is looser than the default");
    }
    // Availability fans out to Google; every route without a JWT is open to the internet.
    let public = ROUTES.iter().filter(|(_, _, _, jwt)| !jwt).map(|(method, path, _, _)| format!("{method} {path}"));
    for key in std::iter::once("POST /availability".to_owned()).chain(public) {
        let settings = routes.get(&key).unwrap_or_else(|| panic!("{key} has route settings of its own"));
        let (burst, rate) = limits(settings);
        assert!(burst < default_burst && rate < default_rate, "{key} is throttled more tightly than the default");
    }
}

/// The metric names calbridge's own alarms and dashboard read out of the template: each
/// `SUM(Name)` of a Metrics Insights query and each `"${MetricsNamespace}", "Name"` metric.
fn namespace_metrics_in_template(text: &str) -> BTreeSet<String> {
    let name_after = |rest: &str| rest.chars().take_while(char::is_ascii_alphanumeric).collect::<String>();
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("SUM(") {
        found.insert(name_after(&text[i + 4..]));
    }
    let plain = "\"${MetricsNamespace}\", \"";
    for (i, _) in text.match_indices(plain) {
        found.insert(name_after(&text[i + plain.len()..]));
    }
    found
}

#[test]
fn the_dashboard_and_alarms_read_exactly_the_metrics_calbridge_records() {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let read = namespace_metrics_in_template(&text);
    let recorded: BTreeSet<String> = calbridge::metrics::names::ALL.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(read, recorded, "a metric the template reads is never recorded, or one recorded is never shown");
}

#[test]
fn cors_is_off_unless_origins_are_named_and_then_allows_exactly_them() {
    let template = load_template();
    let cors = |origins: &str| {
        let d = deployment(&[("AllowedOrigins", origins)]);
        let evaluator = Evaluator { template: &template, deployment: &d };
        let api = template.resource("HttpApi").expect("the HTTP API");
        let body = evaluator.eval(&api["Properties"]["DefinitionBody"]).unwrap_or_else(|e| panic!("{e}")).unwrap();
        body.get("x-amazon-apigateway-cors").cloned()
    };
    assert_eq!(cors(""), None, "the default: no CORS configuration, no origin allowed");
    let on = cors("https://app.example.com,https://admin.example.com").expect("CORS for the named origins");
    assert_eq!(on["allowOrigins"], serde_json::json!(["https://app.example.com", "https://admin.example.com"]));
    assert_eq!(on["allowHeaders"], serde_json::json!(["authorization", "content-type", "idempotency-key"]));
    assert!(on.get("allowCredentials").is_none_or(|c| c == false), "{on}");
    let default = template.parameter_default("AllowedOrigins").expect("a default");
    assert_eq!(default, "", "none unless named");
}
