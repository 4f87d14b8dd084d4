//! `template.yaml` read the way CloudFormation reads it, for the parts a function sees.
//!
//! The template is parsed (short-form tags such as `!Sub` become their long form), SAM's
//! `Globals.Function` is merged into each function, and the intrinsic functions the template
//! uses (`Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::If` with `Fn::Equals`/`Fn::Not`/`Fn::And`/`Fn::Or`,
//! `Fn::Join`, `AWS::NoValue`) are evaluated against a [`Deployment`]: the parameter values a
//! `sam deploy` would be given and the physical ids CloudFormation would assign. A function's
//! environment is therefore exactly what the template gives it; nothing is filled in for a
//! variable the template forgets. Anything the evaluator does not understand is an error, never
//! a silent guess.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("template.yaml: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// A parsed SAM template, intrinsic functions in their long form (`{"Fn::Sub": ...}`).
#[derive(Debug, Clone)]
pub struct SamTemplate {
    pub document: Value,
}

impl SamTemplate {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TemplateError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
        Ok(Self { document: to_json(yaml)? })
    }

    pub fn resources(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.document["Resources"].as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.resources().get(logical_id)
    }

    /// Logical ids of the resources of one type, in template order.
    pub fn resources_of_type(&self, kind: &str) -> Vec<&str> {
        self.resources().iter().filter(|(_, r)| r["Type"] == kind).map(|(id, _)| id.as_str()).collect()
    }

    /// A parameter's `Default`, if it has one.
    pub fn parameter_default(&self, name: &str) -> Option<&Value> {
        self.document["Parameters"].get(name)?.get("Default")
    }

    pub fn parameter_names(&self) -> Vec<&str> {
        self.document["Parameters"].as_object().map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    /// A function resource's properties with `Globals.Function` merged in, as SAM merges them:
    /// maps are merged key by key, anything else in the resource replaces the global.
    pub fn function_properties(&self, logical_id: &str) -> Result<Value, TemplateError> {
        let resource = self.resource(logical_id).ok_or_else(|| invalid(format!("no resource {logical_id}")))?;
        if resource["Type"] != "AWS::Serverless::Function" {
            return Err(invalid(format!("{logical_id} is not an AWS::Serverless::Function")));
        }
        let mut merged = self.document["Globals"]["Function"].clone();
        if merged.is_null() {
            merged = Value::Object(Map::new());
        }
        merge(&mut merged, &resource["Properties"]);
        Ok(merged)
    }
}

fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge(existing, value),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// YAML to JSON, expanding CloudFormation's short-form tags.
fn to_json(yaml: serde_yaml_ng::Value) -> Result<Value, TemplateError> {
    use serde_yaml_ng::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).map_err(|e| invalid(format!("number {n}: {e}")))?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Y::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let Y::String(key) = key else {
                    return Err(invalid(format!("a mapping key is not a string: {key:?}")));
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = to_json(tagged.value)?;
            let (key, value) = match name {
                "Ref" => ("Ref".to_owned(), value),
                "Condition" => ("Condition".to_owned(), value),
                // `!GetAtt Resource.Attribute` is a string; the long form is a list.
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) =
                            s.split_once('.').ok_or_else(|| invalid(format!("!GetAtt {s} has no attribute")))?;
                        ("Fn::GetAtt".to_owned(), Value::from(vec![resource, attribute]))
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                other => (format!("Fn::{other}"), value),
            };
            let mut object = Map::new();
            object.insert(key, value);
            Value::Object(object)
        }
    })
}

/// What CloudFormation would know while creating the stack: the parameter values, the pseudo
/// parameters and the physical ids of resources.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    /// Parameter values given at deploy time (the others take their `Default`).
    pub parameters: HashMap<String, String>,
    /// `Ref` of a resource, by logical id. Resources whose name is a template property
    /// (`FunctionName`, `LogGroupName`, `Name`) need no entry.
    pub refs: HashMap<String, String>,
    /// `Fn::GetAtt`, by (logical id, attribute).
    pub attributes: HashMap<(String, String), String>,
}

/// Evaluates intrinsic functions of `template` for `deployment`.
pub struct Evaluator<'a> {
    pub template: &'a SamTemplate,
    pub deployment: &'a Deployment,
}

impl Evaluator<'_> {
    /// The value of `value` with every intrinsic function applied; `None` for `AWS::NoValue`.
    pub fn eval(&self, value: &Value) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::Object(object) if object.len() == 1 => {
                let (key, argument) = object.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(argument),
                    "Fn::Sub" => self.sub(argument).map(|s| Some(Value::String(s))),
                    "Fn::GetAtt" => self.get_att(argument).map(|s| Some(Value::String(s))),
                    "Fn::If" => self.if_(argument),
                    "Fn::Join" => self.join(argument).map(|s| Some(Value::String(s))),
                    key if key.starts_with("Fn::") => Err(invalid(format!("{key} is not supported by the evaluator"))),
                    _ => self.eval_object(object).map(Some),
                }
            }
            Value::Object(object) => self.eval_object(object).map(Some),
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(item) = self.eval(item)? {
                        out.push(item);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// [`eval`](Self::eval) for a value that must end up a string (an environment variable).
    pub fn eval_string(&self, value: &Value) -> Result<Option<String>, TemplateError> {
        match self.eval(value)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(invalid(format!("{value} evaluates to {other}, not a string"))),
        }
    }

    fn eval_object(&self, object: &Map<String, Value>) -> Result<Value, TemplateError> {
        let mut out = Map::new();
        for (key, value) in object {
            if let Some(value) = self.eval(value)? {
                out.insert(key.clone(), value);
            }
        }
        Ok(Value::Object(out))
    }

    fn parameter(&self, name: &str) -> Result<Option<Value>, TemplateError> {
        let Some(definition) = self.template.document["Parameters"].get(name) else {
            return Ok(None);
        };
        let raw = match self.deployment.parameters.get(name) {
            Some(value) => value.clone(),
            None => match self.template.parameter_default(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(other) => return Err(invalid(format!("parameter {name} has a default of an odd type: {other}"))),
                None => return Err(invalid(format!("parameter {name} has no default and no deployment value"))),
            },
        };
        if let Some(allowed) = definition["AllowedValues"].as_array() {
            let allowed: Vec<String> =
                allowed.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect();
            if !allowed.contains(&raw) {
                return Err(invalid(format!("parameter {name}={raw:?} is not one of {allowed:?}")));
            }
        }
        if definition["Type"] == "CommaDelimitedList" {
            return Ok(Some(Value::from(raw.split(',').map(str::trim).collect::<Vec<_>>())));
        }
        Ok(Some(Value::String(raw)))
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        let d = self.deployment;
        Some(match name {
            "AWS::StackName" => d.stack_name.clone(),
            "AWS::Region" => d.region.clone(),
            "AWS::AccountId" => d.account_id.clone(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            _ => return None,
        })
    }

    fn reference(&self, argument: &Value) -> Result<Option<Value>, TemplateError> {
        let name = argument.as_str().ok_or_else(|| invalid(format!("Ref of a non-string: {argument}")))?;
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.pseudo(name) {
            return Ok(Some(Value::String(value)));
        }
        if let Some(value) = self.parameter(name)? {
            return Ok(Some(value));
        }
        self.resource_ref(name).map(|s| Some(Value::String(s)))
    }

    fn resource_ref(&self, logical_id: &str) -> Result<String, TemplateError> {
        if let Some(physical) = self.deployment.refs.get(logical_id) {
            return Ok(physical.clone());
        }
        let resource = self
            .template
            .resource(logical_id)
            .ok_or_else(|| invalid(format!("Ref to {logical_id}, which is neither a parameter nor a resource")))?;
        for property in ["FunctionName", "LogGroupName", "Name"] {
            if let Some(name) = resource["Properties"].get(property) {
                return self
                    .eval_string(name)?
                    .ok_or_else(|| invalid(format!("{logical_id}.{property} evaluates to nothing")));
            }
        }
        Err(invalid(format!("the deployment has no physical id for {logical_id}")))
    }

    fn get_att(&self, argument: &Value) -> Result<String, TemplateError> {
        let parts: Vec<&str> =
            argument.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let [resource, attribute] = parts[..] else {
            return Err(invalid(format!("Fn::GetAtt needs [resource, attribute]: {argument}")));
        };
        self.deployment
            .attributes
            .get(&(resource.to_owned(), attribute.to_owned()))
            .cloned()
            .ok_or_else(|| invalid(format!("the deployment has no {resource}.{attribute}")))
    }

    fn sub(&self, argument: &Value) -> Result<String, TemplateError> {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), Map::new()),
            Value::Array(items) if items.len() == 2 => (
                items[0].as_str().ok_or_else(|| invalid("Fn::Sub's first item is not a string"))?,
                items[1].as_object().cloned().ok_or_else(|| invalid("Fn::Sub's second item is not a map"))?,
            ),
            _ => return Err(invalid(format!("malformed Fn::Sub: {argument}"))),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| invalid(format!("unclosed ${{ in Fn::Sub: {text}")))?;
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let value = if let Some(value) = variables.get(name) {
                self.eval_string(value)?.unwrap_or_default()
            } else if let Some((resource, attribute)) = name.split_once('.') {
                self.get_att(&Value::from(vec![resource, attribute]))?
            } else {
                match self.reference(&Value::String(name.to_owned()))? {
                    Some(Value::String(s)) => s,
                    other => return Err(invalid(format!("${{{name}}} in Fn::Sub is {other:?}, not a string"))),
                }
            };
            out.push_str(&value);
        }
        out.push_str(rest);
        Ok(out)
    }

    fn join(&self, argument: &Value) -> Result<String, TemplateError> {
        let items = argument.as_array().filter(|a| a.len() == 2).ok_or_else(|| invalid("malformed Fn::Join"))?;
        let separator = items[0].as_str().ok_or_else(|| invalid("Fn::Join separator is not a string"))?;
        let Some(Value::Array(parts)) = self.eval(&items[1])? else {
            return Err(invalid("Fn::Join's list does not evaluate to a list"));
        };
        let parts: Vec<String> =
            parts.iter().map(|p| p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string())).collect();
        Ok(parts.join(separator))
    }

    fn if_(&self, argument: &Value) -> Result<Option<Value>, TemplateError> {
        let items = argument.as_array().filter(|a| a.len() == 3).ok_or_else(|| invalid("malformed Fn::If"))?;
        let condition = items[0].as_str().ok_or_else(|| invalid("Fn::If's condition is not a name"))?;
        if self.condition(condition)? { self.eval(&items[1]) } else { self.eval(&items[2]) }
    }

    /// The value of a condition of the template's `Conditions` section.
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let definition =
            self.template.document["Conditions"].get(name).ok_or_else(|| invalid(format!("no condition {name}")))?;
        self.condition_value(definition)
    }

    fn condition_value(&self, value: &Value) -> Result<bool, TemplateError> {
        let object =
            value.as_object().filter(|o| o.len() == 1).ok_or_else(|| invalid(format!("bad condition {value}")))?;
        let (key, argument) = object.iter().next().expect("one entry");
        let list = || argument.as_array().ok_or_else(|| invalid(format!("{key} needs a list")));
        match key.as_str() {
            "Fn::Equals" => {
                let items = list()?;
                let [a, b] = &items[..] else { return Err(invalid("Fn::Equals needs two values")) };
                Ok(self.eval(a)? == self.eval(b)?)
            }
            "Fn::Not" => Ok(!self.condition_value(list()?.first().ok_or_else(|| invalid("empty Fn::Not"))?)?),
            "Fn::And" => list()?.iter().try_fold(true, |acc, c| Ok(acc && self.condition_value(c)?)),
            "Fn::Or" => list()?.iter().try_fold(false, |acc, c| Ok(acc || self.condition_value(c)?)),
            "Condition" => self.condition(argument.as_str().ok_or_else(|| invalid("Condition needs a name"))?),
            other => Err(invalid(format!("unsupported condition function {other}"))),
        }
    }

    /// The value of one of the template's `Outputs`.
    pub fn output(&self, name: &str) -> Result<String, TemplateError> {
        let value = self.template.document["Outputs"]
            .get(name)
            .and_then(|o| o.get("Value"))
            .ok_or_else(|| invalid(format!("no output {name}")))?;
        self.eval_string(value)?.ok_or_else(|| invalid(format!("output {name} evaluates to nothing")))
    }
}

/// One `AWS::Serverless::Function` as it would be deployed.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The workspace package (= binary) it is built from: `CodeUri`'s folder, which must also
    /// be its `Metadata.BuildProperties.Binary`.
    pub package: String,
    pub function_name: String,
    pub handler: String,
    pub runtime: String,
    pub architectures: Vec<String>,
    pub memory_mb: u64,
    pub timeout_seconds: u64,
    /// `Environment.Variables` after evaluation (variables that evaluate to `AWS::NoValue` are absent).
    pub environment: BTreeMap<String, String>,
    pub log_group: Option<String>,
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
}

impl Evaluator<'_> {
    pub fn function(&self, logical_id: &str) -> Result<FunctionSpec, TemplateError> {
        let properties = self.function_properties_evaluated(logical_id)?;
        let resource = self.template.resource(logical_id).expect("function_properties checked it");
        let string = |key: &str| properties[key].as_str().map(str::to_owned);
        let code_uri = string("CodeUri").ok_or_else(|| invalid(format!("{logical_id} has no CodeUri")))?;
        let package = Path::new(&code_uri)
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| invalid(format!("{logical_id}: CodeUri {code_uri} names no folder")))?
            .to_owned();
        if resource["Metadata"]["BuildMethod"] != "rust-cargolambda" {
            return Err(invalid(format!("{logical_id}: Metadata.BuildMethod is not rust-cargolambda")));
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str();
        if binary.is_some_and(|b| b != package) {
            return Err(invalid(format!(
                "{logical_id}: BuildProperties.Binary {binary:?} is not its package {package}"
            )));
        }
        let mut environment = BTreeMap::new();
        if let Some(variables) = properties["Environment"]["Variables"].as_object() {
            for (name, value) in variables {
                environment
                    .insert(name.clone(), value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()));
            }
        }
        let logging = &properties["LoggingConfig"];
        Ok(FunctionSpec {
            logical_id: logical_id.to_owned(),
            package,
            function_name: string("FunctionName")
                .ok_or_else(|| invalid(format!("{logical_id} has no FunctionName (the route table needs it)")))?,
            handler: string("Handler").unwrap_or_default(),
            runtime: string("Runtime").unwrap_or_default(),
            architectures: properties["Architectures"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            memory_mb: properties["MemorySize"].as_u64().unwrap_or(128),
            timeout_seconds: properties["Timeout"].as_u64().unwrap_or(3),
            environment,
            log_group: logging["LogGroup"].as_str().map(str::to_owned),
            log_format: logging["LogFormat"].as_str().map(str::to_owned),
            application_log_level: logging["ApplicationLogLevel"].as_str().map(str::to_owned),
        })
    }

    /// The properties that decide what the function runs with, evaluated. (Role, Events and
    /// the like wire it to other resources and are left alone.)
    fn function_properties_evaluated(&self, logical_id: &str) -> Result<Value, TemplateError> {
        const RUNTIME_PROPERTIES: [&str; 9] = [
            "FunctionName",
            "CodeUri",
            "Handler",
            "Runtime",
            "Architectures",
            "MemorySize",
            "Timeout",
            "Environment",
            "LoggingConfig",
        ];
        let properties = self.template.function_properties(logical_id)?;
        let mut evaluated = Map::new();
        for key in RUNTIME_PROPERTIES {
            if let Some(value) = properties.get(key)
                && let Some(value) = self.eval(value)?
            {
                evaluated.insert(key.to_owned(), value);
            }
        }
        Ok(Value::Object(evaluated))
    }

    /// Every function of the template.
    pub fn functions(&self) -> Result<Vec<FunctionSpec>, TemplateError> {
        self.template.resources_of_type("AWS::Serverless::Function").into_iter().map(|id| self.function(id)).collect()
    }
}

/// One route of the HTTP API; its target is the Lambda function name the integration invokes.
pub type Route = apigw::Route<String>;

impl Evaluator<'_> {
    /// The routes of the one `AWS::Serverless::HttpApi`'s `DefinitionBody`.
    pub fn routes(&self) -> Result<Vec<Route>, TemplateError> {
        let apis = self.template.resources_of_type("AWS::Serverless::HttpApi");
        let [api] = apis[..] else {
            return Err(invalid(format!("expected one AWS::Serverless::HttpApi, found {apis:?}")));
        };
        let body = &self.template.resource(api).expect("listed")["Properties"]["DefinitionBody"];
        let authorizers: Vec<&String> =
            self.template.resource(api).expect("listed")["Properties"]["Auth"]["Authorizers"]
                .as_object()
                .map(|a| a.keys().collect())
                .unwrap_or_default();
        let paths = body["paths"].as_object().ok_or_else(|| invalid(format!("{api} has no DefinitionBody.paths")))?;
        let mut routes = Vec::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if method == "parameters" {
                    continue;
                }
                let integration = &operation["x-amazon-apigateway-integration"];
                if integration["type"] != "aws_proxy" || integration["payloadFormatVersion"] != "2.0" {
                    return Err(invalid(format!("{method} {path}: not a Lambda proxy integration, payload 2.0")));
                }
                let uri = self
                    .eval_string(&integration["uri"])?
                    .ok_or_else(|| invalid(format!("{method} {path}: no integration uri")))?;
                let function_name = uri
                    .split(":function:")
                    .nth(1)
                    .and_then(|rest| rest.strip_suffix("/invocations"))
                    .ok_or_else(|| invalid(format!("{method} {path}: integration uri {uri} names no function")))?
                    .to_owned();
                let security = operation["security"].as_array().cloned().unwrap_or_default();
                for requirement in &security {
                    for name in requirement.as_object().into_iter().flat_map(|o| o.keys()) {
                        if !authorizers.contains(&name) {
                            return Err(invalid(format!("{method} {path}: unknown authorizer {name}")));
                        }
                    }
                }
                let method = http::Method::from_bytes(method.to_uppercase().as_bytes())
                    .map_err(|_| invalid(format!("{method} {path}: not an HTTP method")))?;
                let route = Route::new(method, path, !security.is_empty(), function_name)
                    .map_err(|e| invalid(e.to_string()))?;
                routes.push(route);
            }
        }
        Ok(routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Name: { Type: String }
  Custom: { Type: String, Default: "" }
  List: { Type: CommaDelimitedList, Default: "a, b" }
Conditions:
  HasCustom: !Not [!Equals [!Ref Custom, ""]]
Globals:
  Function:
    MemorySize: 256
    Environment:
      Variables:
        A: !Ref Name
        B: !If [HasCustom, !Sub "${Custom}/x", !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/x"]
        GONE: !If [HasCustom, "y", !Ref AWS::NoValue]
Resources:
  Api: { Type: AWS::Serverless::HttpApi }
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: my-fn } }
    Properties:
      FunctionName: !Sub "${AWS::StackName}-my-fn"
      CodeUri: functions/my-fn
      Environment:
        Variables:
          C: !GetAtt Key.Arn
          D: !Join [",", !Ref List]
          E: !Sub ["${X}-${!Literal}", { X: !Ref Name }]
"#;

    fn deployment() -> Deployment {
        Deployment {
            stack_name: "s".into(),
            region: "eu-west-1".into(),
            account_id: "1".into(),
            parameters: HashMap::from([("Name".into(), "n".into())]),
            refs: HashMap::from([("Api".into(), "abc".into())]),
            attributes: HashMap::from([(("Key".into(), "Arn".into()), "arn:key".into())]),
        }
    }

    #[test]
    fn globals_merge_and_intrinsics_evaluate() {
        let template = SamTemplate::parse(TEMPLATE).unwrap();
        let d = deployment();
        let f = Evaluator { template: &template, deployment: &d }.function("Fn").unwrap();
        assert_eq!(f.package, "my-fn");
        assert_eq!(f.function_name, "s-my-fn");
        assert_eq!(f.memory_mb, 256);
        let env: Vec<(&str, &str)> = f.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            env,
            [
                ("A", "n"),
                ("B", "https://abc.execute-api.eu-west-1.amazonaws.com/x"),
                ("C", "arn:key"),
                ("D", "a,b"),
                ("E", "n-${Literal}"),
            ]
        );

        let mut d = deployment();
        d.parameters.insert("Custom".into(), "https://api.example".into());
        let f = Evaluator { template: &template, deployment: &d }.function("Fn").unwrap();
        assert_eq!(f.environment["B"], "https://api.example/x");
        assert_eq!(f.environment["GONE"], "y");
    }

    #[test]
    fn unknown_references_are_errors_not_guesses() {
        let template = SamTemplate::parse(TEMPLATE).unwrap();
        let d = Deployment { parameters: HashMap::from([("Name".into(), "n".into())]), ..Default::default() };
        let err = Evaluator { template: &template, deployment: &d }.function("Fn").unwrap_err().to_string();
        assert!(err.contains("Api") || err.contains("Key.Arn"), "{err}");
    }
}
