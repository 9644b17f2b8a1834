//! Steam's three response formats (`format=json|xml|vdf`) from one ordered
//! tree, and Steam's HTML error pages.
//!
//! Steam's conventions (partner.steamgames.com/doc/webapi_overview/responses):
//! the answer is an object holding one named object; 64-bit numbers are
//! strings; in XML an array is a series of elements named after the type of
//! its items and attributes are not used; in VDF an array is an object whose
//! keys are the indices `"0"`, `"1"`, …. Key order is kept as built (Steam's
//! order), which a `serde_json::Value` would not do.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A value of a Steam answer, in the order it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    /// Written with `f32`'s shortest decimal form (stat values are f32).
    F32(f32),
    F64(f64),
    Bool(bool),
    Obj(Vec<(String, Node)>),
    /// `item` names each element in XML (`achievements` → `achievement`).
    Arr {
        item: &'static str,
        items: Vec<Node>,
    },
}

impl Node {
    pub fn str(text: impl Into<String>) -> Node {
        Node::Str(text.into())
    }

    pub fn obj<const N: usize>(fields: [(&str, Node); N]) -> Node {
        Node::Obj(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    pub fn arr(item: &'static str, items: Vec<Node>) -> Node {
        Node::Arr { item, items }
    }
}

/// `format=`: `json` (the default), `xml` or `vdf`, as Steam's Web API offers for every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
    Vdf,
}

impl Format {
    /// `None` for a value Steam does not offer.
    pub fn parse(text: Option<&str>) -> Option<Format> {
        match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("json") => Some(Format::Json),
            Some("xml") => Some(Format::Xml),
            Some("vdf") => Some(Format::Vdf),
            Some(_) => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=UTF-8",
            Format::Xml => "text/xml; charset=UTF-8",
            Format::Vdf => "text/vnd.valve.vdf; charset=UTF-8",
        }
    }

    pub fn render(self, root: &Node) -> String {
        match self {
            Format::Json => {
                let mut out = String::new();
                json(&mut out, root);
                out
            }
            Format::Xml => xml_document(root),
            Format::Vdf => vdf_document(root),
        }
    }

    /// An answer of a method in this format.
    pub fn respond(self, status: StatusCode, root: &Node) -> Response {
        let mut response = (status, self.render(root)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type()),
        );
        response
    }
}

// ---- JSON ----

fn json_string(out: &mut String, s: &str) {
    // serde_json's escaping of a string cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// Rust's `Display` of a finite float never uses an exponent, so it is a
/// JSON number; a non-finite value (never built) would be written as 0.
fn number<F: std::fmt::Display>(value: F, finite: bool) -> String {
    if finite {
        value.to_string()
    } else {
        "0".to_owned()
    }
}

fn json(out: &mut String, node: &Node) {
    match node {
        Node::Str(s) => json_string(out, s),
        Node::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Node::F32(v) => out.push_str(&number(v, v.is_finite())),
        Node::F64(v) => out.push_str(&number(v, v.is_finite())),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                json(out, v);
            }
            out.push('}');
        }
        Node::Arr { items, .. } => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(out, v);
            }
            out.push(']');
        }
    }
}

/// The text of a scalar in XML and VDF.
fn scalar_text(node: &Node, vdf: bool) -> Option<String> {
    Some(match node {
        Node::Str(s) => s.clone(),
        Node::Int(v) => v.to_string(),
        Node::F32(v) => number(v, v.is_finite()),
        Node::F64(v) => number(v, v.is_finite()),
        Node::Bool(b) if vdf => if *b { "1" } else { "0" }.to_owned(),
        Node::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Node::Obj(_) | Node::Arr { .. } => return None,
    })
}

/// The element the document is wrapped in: the answer's one named object,
/// or `response` when the answer has several top-level fields (GetServerInfo).
fn root_of(node: &Node) -> (String, Node) {
    match node {
        Node::Obj(fields) if fields.len() == 1 => (fields[0].0.clone(), fields[0].1.clone()),
        other => ("response".to_owned(), other.clone()),
    }
}

// ---- XML ----

fn xml_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newline, and Unicode's
            // noncharacters (U+FFFE, U+FFFF among them), are not XML text.
            c if (c.is_control() && c != '\t' && c != '\n') || laurel_core::is_noncharacter(c) => {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
}

/// A key as an XML element name. Steam's keys are names already, except
/// stat names used as keys (GetGlobalStatsForGame, GetUserStatsForGame v1),
/// which may hold any character an API name may: other ASCII characters
/// (spaces, as in `Games Played`) become `_`, and other characters
/// `_xHHHH_` (their code point), so the name is valid XML whatever the
/// schema holds. Two keys of one object that come out alike are told apart
/// by [`unique_xml_names`].
fn xml_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            name.push(c);
        } else if c.is_ascii() {
            name.push('_');
        } else {
            let _ = write!(name, "_x{:04X}_", u32::from(c));
        }
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

/// The element names of an object's keys, in order: [`xml_name`] of each,
/// with `_2`, `_3`, … added to a name an earlier key already has, so that
/// no two elements of one object share a name (`Games Played` and
/// `Games_Played` would).
fn unique_xml_names<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    keys.map(|key| {
        let base = xml_name(key);
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    })
    .collect()
}

fn xml_element(out: &mut String, name: &str, node: &Node, depth: usize) {
    let indent = "\t".repeat(depth);
    match node {
        Node::Obj(fields) => {
            let _ = writeln!(out, "{indent}<{name}>");
            let names = unique_xml_names(fields.iter().map(|(k, _)| k.as_str()));
            for ((_, v), k) in fields.iter().zip(&names) {
                xml_element(out, k, v, depth + 1);
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
        Node::Arr { item, items } => {
            let _ = writeln!(out, "{indent}<{name}>");
            let item = xml_name(item);
            for v in items {
                xml_element(out, &item, v, depth + 1);
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
        scalar => {
            let _ = write!(out, "{indent}<{name}>");
            xml_escape(out, &scalar_text(scalar, false).unwrap_or_default());
            let _ = writeln!(out, "</{name}>");
        }
    }
}

fn xml_document(node: &Node) -> String {
    let (root, body) = root_of(node);
    let root = xml_name(&root);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<!DOCTYPE {root}>");
    xml_element(&mut out, &root, &body, 0);
    out
}

// ---- VDF (Valve KeyValues text) ----

fn vdf_quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn vdf_entry(out: &mut String, key: &str, node: &Node, depth: usize) {
    let indent = "\t".repeat(depth);
    out.push_str(&indent);
    vdf_quote(out, key);
    let children: Option<Vec<(String, &Node)>> = match node {
        Node::Obj(fields) => Some(fields.iter().map(|(k, v)| (k.clone(), v)).collect()),
        Node::Arr { items, .. } => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        _ => None,
    };
    match children {
        Some(children) => {
            let _ = writeln!(out, "\n{indent}{{");
            for (k, v) in children {
                vdf_entry(out, &k, v, depth + 1);
            }
            let _ = writeln!(out, "{indent}}}");
        }
        None => {
            out.push('\t');
            vdf_quote(out, &scalar_text(node, true).unwrap_or_default());
            out.push('\n');
        }
    }
}

fn vdf_document(node: &Node) -> String {
    let (root, body) = root_of(node);
    let mut out = String::new();
    vdf_entry(&mut out, &root, &body, 0);
    out
}

// ---- Steam's HTML error pages ----

/// Text inside an HTML element: only `&`, `<` and `>` need escaping, so
/// quotes stay as Steam writes them (`<pre>Parameter 'key' is missing</pre>`).
fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The Web API front end's own refusals: HTML, whatever `format` asked for.
/// Bodies as Steam sends them (see docs/steam-web-api.md for the sources).
#[derive(Debug, Clone, PartialEq)]
pub enum HtmlError {
    /// 400: a required parameter is missing or unreadable; `detail` says which.
    BadRequest(String),
    /// 401: the credential was recognised but is no longer valid (expired token).
    Unauthorized,
    /// 403: missing rights, unknown or revoked key, a key of another app.
    Forbidden,
    /// 404: no such path at all.
    NotFound,
    /// 404: an interface this server does not have.
    InterfaceNotFound(String),
    /// 404: a method (or version of it) the interface does not have.
    MethodNotFound { interface: String, method: String },
    /// 405: the method must be called with this HTTP method.
    WrongHttpMethod(&'static str),
    /// 413: the form body is larger than the route takes.
    TooLarge(usize),
    /// 503: storage is unavailable (a retry may work).
    Unavailable,
    /// 500: anything else.
    Internal,
}

impl HtmlError {
    /// Steam's 400 for a call without a credential.
    pub fn key_missing() -> HtmlError {
        HtmlError::BadRequest("Parameter 'key' is missing".into())
    }

    /// A store failure: 503 when a retry may work, else 500.
    pub fn from_store(e: &laurel_store::StoreError) -> HtmlError {
        match e {
            laurel_store::StoreError::Unavailable(_) => HtmlError::Unavailable,
            _ => HtmlError::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            HtmlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HtmlError::Unauthorized => StatusCode::UNAUTHORIZED,
            HtmlError::Forbidden => StatusCode::FORBIDDEN,
            HtmlError::NotFound
            | HtmlError::InterfaceNotFound(_)
            | HtmlError::MethodNotFound { .. } => StatusCode::NOT_FOUND,
            HtmlError::WrongHttpMethod(_) => StatusCode::METHOD_NOT_ALLOWED,
            HtmlError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HtmlError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            HtmlError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> String {
        const DENIED: &str = "Access is denied. Retrying will not help. Please verify your <pre>key=</pre> parameter.";
        let page = |title: &str, text: &str| {
            format!(
                "<html><head><title>{title}</title></head><body><h1>{title}</h1>{text}</body></html>"
            )
        };
        match self {
            HtmlError::BadRequest(detail) => page(
                "Bad Request",
                &format!(
                    "Please verify that all required parameters are being sent.<pre>{}</pre>",
                    html_escape(detail)
                ),
            ),
            HtmlError::Unauthorized => page("Unauthorized", DENIED),
            HtmlError::Forbidden => page("Forbidden", DENIED),
            HtmlError::NotFound => {
                "<html>\n<head>\n<title>404 Not Found</title>\n</head>\n<body>\n<h1>Not Found</h1>\n</body>\n</html>".to_owned()
            }
            HtmlError::InterfaceNotFound(interface) => page(
                "Not Found",
                &format!("Interface '{}' not found", html_escape(interface)),
            ),
            HtmlError::MethodNotFound { interface, method } => page(
                "Not Found",
                &format!(
                    "Method '{}' not found in interface '{}'",
                    html_escape(method),
                    html_escape(interface)
                ),
            ),
            HtmlError::WrongHttpMethod(method) => page(
                "Method Not Allowed",
                &format!("This API must be called with a HTTP {method} request"),
            ),
            HtmlError::TooLarge(limit) => page(
                "Request Entity Too Large",
                &format!("The request body is larger than {limit} bytes."),
            ),
            HtmlError::Unavailable => page(
                "Service Unavailable",
                "The service is temporarily unavailable; retry later.",
            ),
            HtmlError::Internal => page("Internal Server Error", "Internal Server Error"),
        }
    }
}

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Node {
        Node::obj([(
            "playerstats",
            Node::obj([
                ("steamID", Node::str("76561197960287930")),
                ("gameName", Node::str("Space \"war\" & <more>")),
                (
                    "achievements",
                    Node::arr(
                        "achievement",
                        vec![Node::obj([
                            ("apiname", Node::str("A")),
                            ("achieved", Node::Int(1)),
                        ])],
                    ),
                ),
                ("value", Node::F32(0.1)),
                ("percent", Node::F64(12.5)),
                ("success", Node::Bool(true)),
            ]),
        )])
    }

    #[test]
    fn json_keeps_order_and_writes_short_floats() {
        assert_eq!(
            Format::Json.render(&sample()),
            r#"{"playerstats":{"steamID":"76561197960287930","gameName":"Space \"war\" & <more>","achievements":[{"apiname":"A","achieved":1}],"value":0.1,"percent":12.5,"success":true}}"#
        );
        // It is JSON.
        let v: serde_json::Value = serde_json::from_str(&Format::Json.render(&sample())).unwrap();
        assert_eq!(v["playerstats"]["value"], 0.1);
    }

    #[test]
    fn xml_names_array_items_and_escapes() {
        insta::assert_snapshot!(Format::Xml.render(&sample()), @r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <!DOCTYPE playerstats>
        <playerstats>
        	<steamID>76561197960287930</steamID>
        	<gameName>Space &quot;war&quot; &amp; &lt;more&gt;</gameName>
        	<achievements>
        		<achievement>
        			<apiname>A</apiname>
        			<achieved>1</achieved>
        		</achievement>
        	</achievements>
        	<value>0.1</value>
        	<percent>12.5</percent>
        	<success>true</success>
        </playerstats>
        "#);
    }

    #[test]
    fn vdf_indexes_arrays() {
        insta::assert_snapshot!(Format::Vdf.render(&sample()), @r#"
        "playerstats"
        {
        	"steamID"	"76561197960287930"
        	"gameName"	"Space \"war\" & <more>"
        	"achievements"
        	{
        		"0"
        		{
        			"apiname"	"A"
        			"achieved"	"1"
        		}
        	}
        	"value"	"0.1"
        	"percent"	"12.5"
        	"success"	"1"
        }
        "#);
    }

    #[test]
    fn xml_names_from_stat_names() {
        assert_eq!(xml_name("Games Played"), "Games_Played");
        assert_eq!(xml_name("Puntuación"), "Puntuaci_x00F3_n");
        assert_eq!(xml_name("x²"), "x_x00B2_");
        assert_eq!(
            unique_xml_names(["Games Played", "Games_Played", "Games Played_2", "A"].into_iter()),
            ["Games_Played", "Games_Played_2", "Games_Played_2_2", "A"]
        );
        assert_eq!(xml_name("1st"), "_1st");
        assert_eq!(xml_name("global.map.emp_isle"), "global.map.emp_isle");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse(None), Some(Format::Json));
        assert_eq!(Format::parse(Some("XML")), Some(Format::Xml));
        assert_eq!(Format::parse(Some("vdf")), Some(Format::Vdf));
        assert_eq!(Format::parse(Some("csv")), None);
    }
}

#[cfg(test)]
mod xml_properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever API names a schema holds (any text `ApiName::parse`
        /// accepts), the XML answer keyed by them is well-formed and keeps
        /// every key as its own element, with its value as text.
        #[test]
        fn xml_is_well_formed_for_every_accepted_name(
            names in prop::collection::vec(any::<String>(), 1..12),
            text in any::<String>(),
        ) {
            let names: Vec<String> = names
                .into_iter()
                .filter(|n| laurel_core::ApiName::parse(n).is_ok())
                .collect();
            let fields: Vec<(String, Node)> = names
                .iter()
                .map(|n| (n.clone(), Node::Str(text.clone())))
                .collect();
            let doc = Node::obj([("stats", Node::Obj(fields))]);
            let xml = Format::Xml.render(&doc);
            let parsed = roxmltree::Document::parse_with_options(
                &xml,
                roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() },
            );
            let parsed = match parsed {
                Ok(p) => p,
                Err(e) => return Err(TestCaseError::fail(format!("{e}: {xml}"))),
            };
            let stats = parsed.root_element();
            let children: Vec<_> = stats.children().filter(|n| n.is_element()).collect();
            prop_assert_eq!(children.len(), names.len());
            let distinct: std::collections::HashSet<_> =
                children.iter().map(|n| n.tag_name().name()).collect();
            prop_assert_eq!(distinct.len(), names.len());
        }
    }
}
