//! Every Steam method this server has, one entry each, listed by interface.
//! An entry is its description and its handler together ([`SteamMethod`]),
//! written beside the handler; adding a method is one entry and one handler.

use std::sync::Arc;

use super::format::HtmlError;
use super::method::SteamMethod;
use super::{leaderboards, user, user_stats, web_api_util};

/// The registry: each interface module's entries.
pub static REGISTRY: &[&[SteamMethod]] = &[
    user_stats::reads::METHODS,
    user_stats::global::METHODS,
    user_stats::set::METHODS,
    user::METHODS,
    leaderboards::METHODS,
    web_api_util::METHODS,
];

/// Every registered method version.
pub fn methods() -> impl Iterator<Item = &'static SteamMethod> {
    REGISTRY.iter().copied().flatten()
}

/// The versions of one Steam method, as the registry lists them.
pub(crate) type MethodVersions = Arc<[&'static SteamMethod]>;

/// The router templates of every Steam method: each with and without a
/// trailing slash, both served by the dispatcher over the method's versions.
pub(crate) fn route_templates() -> Vec<(String, MethodVersions)> {
    let mut grouped: Vec<(&str, &str, Vec<&'static SteamMethod>)> = Vec::new();
    for method in methods() {
        match grouped
            .iter_mut()
            .find(|(i, m, _)| *i == method.interface && *m == method.name)
        {
            Some((_, _, versions)) => versions.push(method),
            None => grouped.push((method.interface, method.name, vec![method])),
        }
    }
    let mut out = Vec::new();
    for (interface, name, versions) in grouped {
        let versions: MethodVersions = versions.into();
        let template = format!("/{interface}/{name}/{{version}}");
        out.push((format!("{template}/"), versions.clone()));
        out.push((template, versions));
    }
    out
}

/// The interfaces this server has.
fn interfaces() -> impl Iterator<Item = &'static str> {
    methods().map(|m| m.interface)
}

/// Steam's 404 for a path that looks like a Steam call (`/ISomething/…`) but
/// matches no route; `None` for other paths (the client API answers those).
pub(crate) fn not_found(path: &str) -> Option<HtmlError> {
    let mut segments = path.trim_start_matches('/').split('/');
    let interface = segments.next().filter(|s| {
        let mut c = s.chars();
        c.next() == Some('I') && c.next().is_some_and(|c| c.is_ascii_uppercase())
    })?;
    let shown: String = interface.chars().take(64).collect();
    if !interfaces().any(|i| i == interface) {
        return Some(HtmlError::InterfaceNotFound(shown));
    }
    match segments.next().filter(|m| !m.is_empty()) {
        Some(method) => Some(HtmlError::MethodNotFound {
            interface: shown,
            method: method.chars().take(64).collect(),
        }),
        None => Some(HtmlError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_version_is_registered_once() {
        let all: Vec<_> = methods().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    (a.interface, a.name, a.version) != (b.interface, b.name, b.version),
                    "{a:?}"
                );
            }
        }
    }
}
