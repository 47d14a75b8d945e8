//! Passes over the document's JSON that say what utoipa's derives cannot: one object for
//! flattened parts, the years' digits and the characters text may hold.

/// A response made of flattened parts (`#[serde(flatten)]` and `#[schema(inline)]` on each, as
/// `AskResponse` is its id, the ask's fields and its timestamps) is generated as an `allOf` of
/// inline objects: written as the one object it is, with the parts' properties and required
/// names in their order and the outer description and example. An `allOf` with a reference
/// or a part that limits its other properties is left as it is.
pub(super) fn merge_flattened_parts(document: &mut serde_json::Value) {
    use serde_json::{Map, Value};

    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        let Some(Value::Array(parts)) = schema.get("allOf") else {
            continue;
        };
        let mergeable = |part: &Value| {
            part.get("type").and_then(Value::as_str) == Some("object")
                && part.get("additionalProperties").is_none()
                && part.get("$ref").is_none()
        };
        if !parts.iter().all(mergeable) {
            continue;
        }
        let (mut required, mut properties) = (Vec::new(), Map::new());
        for part in parts {
            if let Some(Value::Array(names)) = part.get("required") {
                required.extend(names.iter().cloned());
            }
            if let Some(Value::Object(fields)) = part.get("properties") {
                properties.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let Value::Object(outer) = std::mem::take(schema) else {
            continue;
        };
        let mut merged = Map::new();
        merged.insert("type".to_owned(), "object".into());
        if let Some(description) = outer.get("description") {
            merged.insert("description".to_owned(), description.clone());
        }
        if !required.is_empty() {
            merged.insert("required".to_owned(), Value::Array(required));
        }
        merged.insert("properties".to_owned(), Value::Object(properties));
        for (key, value) in outer {
            if key != "allOf" && key != "description" {
                merged.insert(key, value);
            }
        }
        *schema = Value::Object(merged);
    }
}

/// Dates and instants take four-digit years (`domain::dates`): every `date` and `date-time`
/// string of the document says so with a pattern, where generators and validators see it.
pub(super) fn four_digit_years(document: &mut serde_json::Value) {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(fields) => {
                let pattern = match fields.get("format").and_then(|f| f.as_str()) {
                    Some("date") => Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                    Some("date-time") => Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]"),
                    _ => None,
                };
                if let Some(pattern) = pattern
                    && fields.get("type").is_some()
                {
                    fields.entry("pattern").or_insert_with(|| pattern.into());
                }
                fields.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(document);
}

/// Gives a request string schema, and every one nested in it, its text pattern (see
/// [`text_patterns`]).
fn pattern_text(value: &mut serde_json::Value) {
    use serde_json::Value;

    use crate::domain::text::{Kind, NO_NUL_PATTERN};

    match value {
        Value::Object(fields) => {
            let is_string = match fields.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string && !fields.contains_key("enum") {
                let kind = fields
                    .get("format")
                    .and_then(Value::as_str)
                    .and_then(Kind::from_format);
                if let Some(kind) = kind {
                    fields.insert("pattern".to_owned(), kind.pattern().into());
                } else if !fields.contains_key("format") && !fields.contains_key("pattern") {
                    fields.insert("pattern".to_owned(), NO_NUL_PATTERN.into());
                }
            }
            fields.values_mut().for_each(pattern_text);
        }
        Value::Array(items) => items.iter_mut().for_each(pattern_text),
        _ => {}
    }
}

/// The names of the component schemas `value` refers to, appended to `names`.
fn schema_references(value: &serde_json::Value, names: &mut Vec<String>) {
    use serde_json::Value;

    match value {
        Value::Object(fields) => {
            if let Some(Value::String(target)) = fields.get("$ref")
                && let Some(name) = target.strip_prefix("#/components/schemas/")
            {
                names.push(name.to_owned());
            }
            fields.values().for_each(|v| schema_references(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| schema_references(v, names)),
        _ => {}
    }
}

/// The characters text may hold, where generators and validators see them: every string a
/// request sends gets a pattern. A `name`, `line` or `paragraph` (the formats of
/// `domain::text`) gets the pattern of its kind; any other string with neither a format nor a
/// pattern of its own (a password, a search term) gets the rule every text keeps, no U+0000.
pub(super) fn text_patterns(document: &mut serde_json::Value) {
    use serde_json::Value;

    // What requests send: bodies and the schemas they reach, and query parameters.
    let mut pending = Vec::new();
    if let Some(Value::Object(paths)) = document.get_mut("paths") {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut().filter_map(Value::as_object_mut) {
                if let Some(body) = operation.get_mut("requestBody") {
                    schema_references(body, &mut pending);
                    pattern_text(body);
                }
                let parameters = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut);
                for parameter in parameters.into_iter().flatten() {
                    if parameter.get("in").and_then(Value::as_str) == Some("query")
                        && let Some(schema) = parameter.get_mut("schema")
                    {
                        pattern_text(schema);
                    }
                }
            }
        }
    }
    let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get_mut(&name) {
            schema_references(schema, &mut pending);
            pattern_text(schema);
        }
    }
}
