//! `ISteamWebAPIUtil`: `GetServerInfo` and `GetSupportedAPIList`, the
//! registry described as Steam describes its own.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use laurel_store::SECONDS_PER_DAY;

use crate::clock::unix_now;
use crate::steam::format::Node;
use crate::steam::method::{SteamCall, SteamMethod, WEB_API_UTIL, param};

pub(crate) const METHODS: &[SteamMethod] = &[
    SteamMethod {
        interface: WEB_API_UTIL,
        name: "GetServerInfo",
        version: 1,
        http: "GET",
        body_limit: 0,
        params: &[],
        answer: "/servertime",
        handler: |_, call| Box::pin(async move { Ok(server_info(call)) }),
    },
    SteamMethod {
        interface: WEB_API_UTIL,
        name: "GetSupportedAPIList",
        version: 1,
        http: "GET",
        body_limit: 0,
        params: &[param("key", "string", true, "access key")],
        answer: "/apilist/interfaces",
        handler: |_, call| Box::pin(async move { Ok(supported_api_list(call)) }),
    },
];

// ---- ISteamWebAPIUtil ----

/// `Tue Nov 14 22:13:20 2023`: C's `asctime` layout, in UTC (Steam writes
/// its own server's local time; Laurel's servers agree on UTC).
pub(crate) fn asctime(time: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = time.div_euclid(SECONDS_PER_DAY);
    let secs = time.rem_euclid(SECONDS_PER_DAY);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let (year, month, day) = laurel_core::civil::civil_from_days(days);
    format!(
        "{weekday} {} {day:>2} {:02}:{:02}:{:02} {year}",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn server_info(call: &SteamCall) -> Response {
    let now = unix_now();
    call.format.respond(
        StatusCode::OK,
        &Node::obj([
            ("servertime", Node::Int(now)),
            ("servertimestring", Node::str(asctime(now))),
        ]),
    )
}

/// Generated from the registry: interfaces by name, each method version
/// once, with the parameters exactly as the dispatcher enforces them.
fn supported_api_list(call: &SteamCall) -> Response {
    let mut interfaces: BTreeMap<&str, Vec<&SteamMethod>> = BTreeMap::new();
    for method in call.registry.iter().copied().flatten() {
        interfaces.entry(method.interface).or_default().push(method);
    }
    let list: Vec<Node> = interfaces
        .into_iter()
        .map(|(name, mut methods)| {
            methods.sort_by_key(|m| (m.name, m.version));
            let methods = methods
                .into_iter()
                .map(|m| {
                    let params = m
                        .params
                        .iter()
                        .map(|p| {
                            Node::obj([
                                ("name", Node::str(p.name)),
                                ("type", Node::str(p.kind)),
                                ("optional", Node::Bool(p.optional)),
                                ("description", Node::str(p.description)),
                            ])
                        })
                        .collect();
                    Node::obj([
                        ("name", Node::str(m.name)),
                        ("version", Node::Int(i64::from(m.version))),
                        ("httpmethod", Node::str(m.http)),
                        ("parameters", Node::arr("parameter", params)),
                    ])
                })
                .collect();
            Node::obj([
                ("name", Node::str(name)),
                ("methods", Node::arr("method", methods)),
            ])
        })
        .collect();
    call.format.respond(
        StatusCode::OK,
        &Node::obj([(
            "apilist",
            Node::obj([("interfaces", Node::arr("interface", list))]),
        )]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_is_c_layout_in_utc() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
        // Steam's example (1625396869) shown in UTC.
        assert_eq!(asctime(1_625_396_869), "Sun Jul  4 11:07:49 2021");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }
}
