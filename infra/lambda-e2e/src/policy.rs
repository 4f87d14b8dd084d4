//! IAM as the template writes it, evaluated for the requests a function really sends.
//!
//! A function may send an AWS request when an `Allow` statement matches it and no `Deny` does:
//! for DynamoDB and Secrets Manager the statements of the policies inline in its role, for KMS
//! the statements of the key's own key policy that name its role as principal (the key policy
//! gives the account no cryptographic action, so IAM policies cannot grant one). Statements are
//! read from the unevaluated template, so resources and principals are logical ids
//! (`Fn::GetAtt: [TokenTable, Arn]`, `Ref: GoogleSecret`), and a request's resource is mapped
//! back to its logical id by [`PhysicalIds`]. A DynamoDB index is named as IAM names it,
//! `!Sub "${Table.Arn}/index/<name>"`, and only such a statement covers a request that reads
//! the index (the table's own ARN does not).
//!
//! Only the condition operators and keys the template uses are understood; anything else is an
//! error rather than a guess, so a new condition cannot make a check pass silently. IAM's own
//! quirk is kept: `ForAllValues` over a request that carries no value for the key is true.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::aws::AwsCall;
use crate::template::{SamTemplate, TemplateError};

/// Physical resource ids (table name, key id or ARN, secret ARN) -> logical ids.
#[derive(Debug, Clone, Default)]
pub struct PhysicalIds(pub BTreeMap<String, String>);

impl PhysicalIds {
    fn logical(&self, physical: &str) -> Option<&str> {
        self.0.get(physical).map(String::as_str)
    }
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// Whether `function` (a logical id) may send `call`.
pub fn allows(
    template: &SamTemplate,
    function: &str,
    call: &AwsCall,
    ids: &PhysicalIds,
) -> Result<bool, TemplateError> {
    let role = role_of(template, function)?;
    let resource = call.resource.as_deref().and_then(|r| ids.logical(r));
    let is_kms = call.action.starts_with("kms:");
    let statements = if is_kms {
        let Some(key) = resource else { return Ok(false) };
        key_policy_statements_for(template, key, &role)?
    } else {
        role_statements(template, &role)?
    };
    let mut allowed = false;
    for statement in statements {
        if !statement_matches(statement, call, resource, is_kms)? {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return Ok(false),
            Some("Allow") => allowed = true,
            other => return Err(invalid(format!("a statement has Effect {other:?}"))),
        }
    }
    Ok(allowed)
}

/// The logical id of the role a function runs as (`Role: !GetAtt <Role>.Arn`).
pub fn role_of(template: &SamTemplate, function: &str) -> Result<String, TemplateError> {
    let properties = template.function_properties(function)?;
    get_att_arn(&properties["Role"])
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{function}: Role is not a `!GetAtt <role>.Arn` of this template")))
}

/// `${Table.Arn}/index/<name>` as (Table, name); any other `Fn::Sub` names nothing here.
fn index_arn(sub: &str) -> Option<(&str, &str)> {
    let rest = sub.strip_prefix("${")?;
    let (table, index) = rest.split_once(".Arn}/index/")?;
    (!index.is_empty() && !index.contains(['$', '*', '/'])).then_some((table, index))
}

fn get_att_arn(value: &Value) -> Option<&str> {
    match value.get("Fn::GetAtt")? {
        Value::Array(parts) if parts.len() == 2 && parts[1] == "Arn" => parts[0].as_str(),
        Value::String(dotted) => dotted.strip_suffix(".Arn"),
        _ => None,
    }
}

fn role_statements<'t>(template: &'t SamTemplate, role: &str) -> Result<Vec<&'t Value>, TemplateError> {
    let resource = template.resource(role).ok_or_else(|| invalid(format!("no resource {role}")))?;
    if resource["Type"] != "AWS::IAM::Role" {
        return Err(invalid(format!("{role} is not an AWS::IAM::Role")));
    }
    if resource["Properties"].get("ManagedPolicyArns").is_some() {
        return Err(invalid(format!("{role} has managed policies, which this check cannot see")));
    }
    let mut statements = Vec::new();
    for policy in resource["Properties"]["Policies"].as_array().into_iter().flatten() {
        statements.extend(as_list(&policy["PolicyDocument"]["Statement"]));
    }
    Ok(statements)
}

/// The key policy statements whose principal includes `role`.
fn key_policy_statements_for<'t>(
    template: &'t SamTemplate,
    key: &str,
    role: &str,
) -> Result<Vec<&'t Value>, TemplateError> {
    let resource = template.resource(key).ok_or_else(|| invalid(format!("no resource {key}")))?;
    if resource["Type"] != "AWS::KMS::Key" {
        return Ok(Vec::new());
    }
    let statements = as_list(&resource["Properties"]["KeyPolicy"]["Statement"]);
    Ok(statements
        .into_iter()
        .filter(|s| as_list(&s["Principal"]["AWS"]).into_iter().any(|p| get_att_arn(p) == Some(role)))
        .collect())
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

fn statement_matches(
    statement: &Value,
    call: &AwsCall,
    resource: Option<&str>,
    in_key_policy: bool,
) -> Result<bool, TemplateError> {
    if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
        return Err(invalid("NotAction/NotResource are not understood"));
    }
    let action_matches = as_list(&statement["Action"])
        .into_iter()
        .filter_map(Value::as_str)
        .any(|pattern| glob(&pattern.to_ascii_lowercase(), &call.action.to_ascii_lowercase()));
    if !action_matches {
        return Ok(false);
    }
    // In a key policy, Resource "*" means the key itself.
    let resource_matches = as_list(&statement["Resource"]).into_iter().any(|r| match r {
        Value::String(s) if s == "*" => in_key_policy || resource.is_some(),
        Value::String(_) => false,
        reference => match reference.get("Fn::Sub").and_then(Value::as_str) {
            Some(sub) => index_arn(sub)
                .is_some_and(|(table, index)| Some(table) == resource && call.index.as_deref() == Some(index)),
            None => {
                let logical = get_att_arn(reference).or_else(|| reference.get("Ref").and_then(Value::as_str));
                call.index.is_none() && logical.is_some() && logical == resource
            }
        },
    });
    if !resource_matches {
        return Ok(false);
    }
    conditions_hold(&statement["Condition"], call)
}

fn conditions_hold(conditions: &Value, call: &AwsCall) -> Result<bool, TemplateError> {
    let Some(conditions) = conditions.as_object() else {
        return if conditions.is_null() { Ok(true) } else { Err(invalid("Condition is not a map")) };
    };
    for (operator, tests) in conditions {
        let tests = tests.as_object().ok_or_else(|| invalid(format!("{operator} is not a map")))?;
        for (key, expected) in tests {
            let expected: Vec<&str> = as_list(expected).into_iter().filter_map(Value::as_str).collect();
            let values = request_values(call, key)?;
            let holds = match operator.as_str() {
                "StringEquals" => !values.is_empty() && values.iter().all(|v| expected.contains(&v.as_str())),
                "ForAllValues:StringEquals" => values.iter().all(|v| expected.contains(&v.as_str())),
                "ForAllValues:StringLike" => values.iter().all(|v| expected.iter().any(|p| glob(p, v))),
                "Null" => match expected.as_slice() {
                    ["false"] => !values.is_empty(),
                    ["true"] => values.is_empty(),
                    _ => return Err(invalid(format!("Null {key}: {expected:?}"))),
                },
                other => return Err(invalid(format!("condition operator {other} is not understood"))),
            };
            if !holds {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The request's values for a condition key.
fn request_values(call: &AwsCall, key: &str) -> Result<Vec<String>, TemplateError> {
    let context = call.encryption_context.as_ref();
    Ok(match key {
        "dynamodb:LeadingKeys" => call.leading_key.iter().cloned().collect(),
        "kms:EncryptionContextKeys" => context.map(|c| c.keys().cloned().collect()).unwrap_or_default(),
        _ => match key.strip_prefix("kms:EncryptionContext:") {
            Some(name) => context.and_then(|c| c.get(name)).cloned().into_iter().collect(),
            None => return Err(invalid(format!("condition key {key} is not understood"))),
        },
    })
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
fn glob(pattern: &str, value: &str) -> bool {
    let (pattern, value): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut p, mut v, mut star, mut mark) = (0, 0, None, 0);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == value[v]) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = v;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            v = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_follows_iam_wildcards() {
        assert!(glob("FLOW#*", "FLOW#launch#abc"));
        assert!(glob("dynamodb:*item", "dynamodb:getitem"));
        assert!(glob("kms:List*", "kms:ListAliases"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("FLOW#*", "T#clinic#U#u"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("dynamodb:GetItem", "dynamodb:GetItems"));
    }
}
