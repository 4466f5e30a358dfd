//! JSON parsing that rejects duplicate object keys.
//!
//! `serde_json` keeps the last of two equal keys without complaint. Two
//! parsers that disagree on which duplicate wins let one signed document say
//! two things (THREATS 67: `"_type"` twice; the same class of bug as
//! CVE-2017-12635 in `CouchDB`). Every JSON document this crate reads goes
//! through [`parse_value`], which builds a [`serde_json::Value`] with a map
//! visitor that fails on the second occurrence of a key. Nesting depth stays
//! bounded by `serde_json`'s recursion limit (128), so deeply nested input is
//! an error, not a stack overflow.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parse one JSON document (trailing data rejected), failing on duplicate
/// keys at any depth.
pub fn parse_value(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Seed that deserialises any JSON value, rejecting duplicate keys.
#[derive(Debug, Clone, Copy)]
pub struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{key}`"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        let error = parse_value(br#"{"_type":"a","_type":"b"}"#).unwrap_err();
        assert!(
            error.to_string().contains("duplicate key `_type`"),
            "{error}"
        );
        let error = parse_value(br#"{"a":[{"x":1,"y":2,"x":3}]}"#).unwrap_err();
        assert!(error.to_string().contains("duplicate key `x`"), "{error}");
    }

    #[test]
    fn ordinary_documents_parse_like_serde_json() {
        let text = br#"{"a":[1,-2,3.5,true,null,"s"],"b":{"c":{}}}"#;
        assert_eq!(
            parse_value(text).unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }

    #[test]
    fn deep_nesting_and_trailing_data_are_errors() {
        let deep = "[".repeat(100_000);
        assert!(parse_value(deep.as_bytes()).is_err());
        assert!(parse_value(b"{} {}").is_err());
    }
}
