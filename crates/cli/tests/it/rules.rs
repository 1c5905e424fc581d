//! `sextant users create`, `sextant rules apply`, `sextant rules eval` and
//! `sextant annotations list` against the real server, over the example Nostromo data.

use crate::common;

use common::{Server, text};

const MODULE: &str = r#"
rules:
  - name: voltage_high
    rule_client_key: voltage-high
    description: Voltage above 24 V
    expression: $1 > $limit
    channel_references:
      - $1: voltage
    sub_expressions:
      - $limit: 20 + 4
    type: review
    assignee: ellen.ripley@weylandcorp.com
    asset_names:
      - NostromoLV426
    tags:
      - power
"#;

#[track_caller]
fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

#[test]
fn apply_eval_annotate_and_list() {
    let server = Server::start();
    // One row of the example is bad on purpose; the others are stored.
    server.ingest_nostromo();

    let module = server.path("power.yml");
    std::fs::write(&module, MODULE).unwrap();
    let module = module.display().to_string();

    // The assignee must exist first; the error says how to create one.
    let refused = server.sextant(&["rules", "apply", &module]);
    assert!(
        !refused.status.success(),
        "{}{}",
        text(&refused.stdout),
        text(&refused.stderr)
    );
    assert!(
        text(&refused.stderr).contains("no user named `ellen.ripley@weylandcorp.com`"),
        "{}",
        text(&refused.stderr)
    );
    let created = ok(&server.sextant(&["users", "create", "ellen.ripley@weylandcorp.com"]));
    assert!(created.contains("created user"), "{created}");

    let applied = ok(&server.sextant(&["rules", "apply", &module]));
    assert!(applied.contains("created rule `voltage_high`"), "{applied}");
    assert!(applied.contains("version 1"), "{applied}");
    let again = ok(&server.sextant(&["rules", "apply", &module]));
    assert!(again.contains("updated rule `voltage_high`"), "{again}");
    assert!(again.contains("version 2"), "{again}");

    // Voltages 24, 24, 23, 25, (bad row), 24: above 24 only at the fourth row.
    let start = "1720141748855000000";
    let end = "1720141749055000000";
    let evaluated = ok(&server.sextant(&[
        "rules",
        "eval",
        "--rule",
        "voltage-high",
        "--asset",
        "NostromoLV426",
    ]));
    assert!(evaluated.contains("held 1 time(s)"), "{evaluated}");
    assert!(
        evaluated.contains(&format!("{start} .. {end}")),
        "{evaluated}"
    );

    // The same rule from the file, not stored, gives the same range.
    let inline = ok(&server.sextant(&[
        "rules",
        "eval",
        "--file",
        &module,
        "--name",
        "voltage_high",
        "--asset",
        "NostromoLV426",
    ]));
    assert!(inline.contains(&format!("{start} .. {end}")), "{inline}");

    let none = ok(&server.sextant(&["annotations", "list"]));
    assert!(none.contains("0 annotations"), "{none}");
    let annotated = ok(&server.sextant(&[
        "rules",
        "eval",
        "--rule",
        "voltage-high",
        "--asset",
        "NostromoLV426",
        "--annotate",
    ]));
    assert!(annotated.contains("created 1 annotations"), "{annotated}");
    let listed = ok(&server.sextant(&["annotations", "list", "--state", "open"]));
    assert!(listed.contains("1 annotations"), "{listed}");
    assert!(
        listed.contains(&format!(
            "voltage_high  {start} .. {end}  review  open  tags=power"
        )),
        "{listed}"
    );

    // A type error the server finds against the asset's channels names the rule, and the
    // stored rule is left as it was.
    let bad = server.path("bad.yml");
    std::fs::write(
        &bad,
        MODULE.replace("$1 > $limit", "$1 > \"high\" || $limit > 0"),
    )
    .unwrap();
    let refused = server.sextant(&["rules", "apply", &bad.display().to_string()]);
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(message.contains("400 Bad Request"), "{message}");
    assert!(message.contains("rule `voltage_high`"), "{message}");
    assert!(message.contains("cannot compare"), "{message}");
    let still = ok(&server.sextant(&["rules", "apply", &module]));
    assert!(still.contains("version 3"), "{still}");
}

#[tokio::test]
async fn a_user_created_with_a_login_gets_a_session_key_for_its_password() {
    use std::io::Write;
    use std::process::Stdio;

    let server = Server::start();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "users",
            "create",
            "dallas",
            "--email",
            "dallas@nostromo.example",
        ])
        .args(["--session-scope", "ingest"])
        .env("SEXTANT_URL", &server.url)
        .env("SEXTANT_TOKEN", common::TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"special-order-937\n")
        .unwrap();
    let created = child.wait_with_output().unwrap();
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(
        text(&created.stdout).contains("with the login dallas@nostromo.example"),
        "{}",
        text(&created.stdout)
    );

    let http = reqwest::Client::new();
    let login = |password: &'static str| {
        http.post(format!("{}/v2/session", server.url))
            .json(&serde_json::json!({"email": "dallas@nostromo.example", "password": password}))
            .send()
    };
    let refused = login("special-order-938").await.unwrap();
    assert_eq!(refused.status(), 401);
    let accepted = login("special-order-937").await.unwrap();
    assert_eq!(accepted.status(), 200);
    let reply: serde_json::Value = accepted.json().await.unwrap();
    let token = reply["accessToken"].as_str().unwrap();
    // An ingest-scoped session writes.
    let write = http
        .post(format!("{}/write", server.url))
        .header("X-SF-Token", token)
        .body("m v=1 1")
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 204);

    // Five wrong passwords in a minute, and the address is refused without a check, the
    // right password too, for the rest of the minute.
    for _ in 0..5 {
        assert_eq!(login("special-order-939").await.unwrap().status(), 401);
    }
    let limited = login("special-order-937").await.unwrap();
    assert_eq!(limited.status(), 429);
    let reply: serde_json::Value = limited.json().await.unwrap();
    let message = reply["message"]
        .as_str()
        .or(reply["error"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with("5 failed logins for this address within 60 s; try again in "),
        "{reply}"
    );
}
