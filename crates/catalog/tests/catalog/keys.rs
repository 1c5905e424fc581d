//! Organizations, API keys, authentication and bootstrap.

use sextant_catalog::{Catalog, OrgLimits, Principal, Scope};
use sextant_model::ErrorKind;

use crate::common::{Fixture, START, assert_error};

#[test]
fn organization_limits_are_set_replaced_and_cleared_per_organization() {
    let f = Fixture::new();
    let acme = f.catalog.create_organization("acme").unwrap();
    let initech = f.catalog.create_organization("initech").unwrap();
    assert_eq!(
        f.catalog.organization_limits(&acme.id).unwrap(),
        OrgLimits::default()
    );
    let limits = OrgLimits {
        query_timeout_ms: Some(5_000),
        query_max_points: None,
    };
    f.catalog
        .set_organization_limits(&acme.id, &limits)
        .unwrap();
    assert_eq!(f.catalog.organization_limits(&acme.id).unwrap(), limits);
    assert_eq!(
        f.catalog.organization_limits(&initech.id).unwrap(),
        OrgLimits::default(),
        "another organization keeps the server's limits"
    );
    let replaced = OrgLimits {
        query_timeout_ms: None,
        query_max_points: Some(1_000),
    };
    f.catalog
        .set_organization_limits(&acme.id, &replaced)
        .unwrap();
    assert_eq!(f.catalog.organization_limits(&acme.id).unwrap(), replaced);
    f.catalog
        .set_organization_limits(&acme.id, &OrgLimits::default())
        .unwrap();
    assert_eq!(
        f.catalog.organization_limits(&acme.id).unwrap(),
        OrgLimits::default()
    );
    assert_error(
        f.catalog.set_organization_limits("no-such-org", &limits),
        ErrorKind::NotFound,
        "organization \"no-such-org\" not found",
    );
    assert_error(
        f.catalog.set_organization_limits(
            &acme.id,
            &OrgLimits {
                query_max_points: Some(u64::MAX),
                ..OrgLimits::default()
            },
        ),
        ErrorKind::InvalidInput,
        "larger than the catalog can hold",
    );
}

#[test]
fn organizations_are_created_listed_and_unique() {
    let f = Fixture::new();
    let acme = f.catalog.create_organization("acme").unwrap();
    let initech = f.catalog.create_organization("initech").unwrap();
    assert_eq!(acme.name, "acme");
    assert!(acme.created_at >= START);
    assert_eq!(f.catalog.get_organization(&acme.id).unwrap(), acme);
    assert_eq!(
        f.catalog.list_organizations().unwrap(),
        vec![acme.clone(), initech]
    );

    let cases = [
        ("acme", ErrorKind::AlreadyExists, "\"acme\""),
        (
            "",
            ErrorKind::InvalidInput,
            "organization name must not be empty",
        ),
        ("  ", ErrorKind::InvalidInput, "\"  \""),
    ];
    for (name, kind, needle) in cases {
        assert_error(f.catalog.create_organization(name), kind, needle);
    }
    assert_error(
        f.catalog.get_organization("no-such-org"),
        ErrorKind::NotFound,
        "organization \"no-such-org\" not found",
    );
}

#[test]
fn keys_authenticate_until_revoked() {
    let f = Fixture::new();
    let org = f.org("acme");
    let other = f.org("initech");
    let (ingest, ingest_secret) = f
        .catalog
        .create_api_key(&org, "rig 1", Scope::Ingest.into())
        .unwrap();
    let (read, read_secret) = f
        .catalog
        .create_api_key(&org, "grafana", Scope::Read.into())
        .unwrap();
    let (other_key, other_secret) = f
        .catalog
        .create_api_key(&other, "ops", Scope::Admin.into())
        .unwrap();
    assert!(ingest_secret.starts_with("sxt_") && ingest_secret.len() >= 4 + 64);
    assert_ne!(ingest_secret, read_secret);
    assert_eq!(ingest.revoked_at, None);

    let principal = |key: &sextant_catalog::ApiKey| Principal {
        organization_id: key.organization_id.clone(),
        key_id: key.id.clone(),
        key_name: key.name.clone(),
        scopes: key.scopes,
    };
    // (secret presented, expected principal)
    let cases = [
        (ingest_secret.clone(), Some(principal(&ingest))),
        (read_secret.clone(), Some(principal(&read))),
        (other_secret.clone(), Some(principal(&other_key))),
        (format!("{ingest_secret}x"), None),
        (ingest_secret[..ingest_secret.len() - 1].to_owned(), None),
        ("sxt_".to_owned(), None),
        (String::new(), None),
        (ingest.id.clone(), None),
    ];
    for (secret, expected) in &cases {
        assert_eq!(
            &f.catalog.authenticate(secret).unwrap(),
            expected,
            "{secret:?}"
        );
    }

    let revoked = f.catalog.revoke_api_key(&org, &ingest.id).unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked_at set");
    assert_eq!(f.catalog.authenticate(&ingest_secret).unwrap(), None);
    assert_eq!(
        f.catalog.authenticate(&read_secret).unwrap(),
        Some(principal(&read))
    );
    // Revoking again keeps the first time.
    let again = f.catalog.revoke_api_key(&org, &ingest.id).unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));

    let keys = f.catalog.list_api_keys(&org).unwrap();
    assert_eq!(keys, vec![revoked, read]);
    assert_eq!(
        f.catalog.list_api_keys(&other).unwrap(),
        vec![other_key.clone()]
    );

    // Another organization's key cannot be revoked through this one.
    assert_error(
        f.catalog.revoke_api_key(&org, &other_key.id),
        ErrorKind::NotFound,
        &other_key.id,
    );
    assert!(f.catalog.authenticate(&other_secret).unwrap().is_some());

    assert_error(
        f.catalog.create_api_key("nope", "k", Scope::Read.into()),
        ErrorKind::NotFound,
        "organization \"nope\"",
    );
    assert_error(
        f.catalog.create_api_key(&org, "", Scope::Read.into()),
        ErrorKind::InvalidInput,
        "API key name",
    );
}

#[test]
fn secrets_are_never_written_to_disk() {
    let f = Fixture::new();
    let org = f.org("acme");
    let (_, secret) = f
        .catalog
        .create_api_key(&org, "k", Scope::Admin.into())
        .unwrap();
    let path = f.path();
    let f = f.reopen();
    assert!(f.catalog.authenticate(&secret).unwrap().is_some());
    let hex = secret.trim_start_matches("sxt_");
    for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(hex), "the secret is stored in clear");
    }
}

#[test]
fn bootstrap_creates_one_admin_key_once() {
    let f = Fixture::new();
    let token = "operator-chosen-bootstrap-token";
    let principal = f
        .catalog
        .bootstrap(token)
        .unwrap()
        .expect("fresh catalog bootstraps");
    assert_eq!(principal.scopes, Scope::Admin.into());
    assert_eq!(
        f.catalog.authenticate(token).unwrap(),
        Some(principal.clone())
    );
    let org = f
        .catalog
        .get_organization(&principal.organization_id)
        .unwrap();
    assert_eq!(org.name, "default");

    // Again, with the same or another token, in this process or after a restart: nothing.
    assert_eq!(f.catalog.bootstrap(token).unwrap(), None);
    let f = f.reopen();
    assert_eq!(f.catalog.bootstrap("another-token").unwrap(), None);
    assert_eq!(f.catalog.authenticate("another-token").unwrap(), None);
    assert_eq!(
        f.catalog.authenticate(token).unwrap(),
        Some(principal.clone())
    );
    assert_eq!(f.catalog.list_organizations().unwrap().len(), 1);
    assert_eq!(
        f.catalog
            .list_api_keys(&principal.organization_id)
            .unwrap()
            .len(),
        1
    );

    assert_error(
        f.catalog.bootstrap(""),
        ErrorKind::InvalidInput,
        "bootstrap token",
    );
}

#[test]
fn bootstrap_does_nothing_when_any_key_exists_and_reuses_default() {
    // A catalog with a key (even a revoked one) is not fresh.
    let f = Fixture::new();
    let org = f.org("acme");
    let (key, _) = f
        .catalog
        .create_api_key(&org, "k", Scope::Read.into())
        .unwrap();
    f.catalog.revoke_api_key(&org, &key.id).unwrap();
    assert_eq!(f.catalog.bootstrap("token-token-token").unwrap(), None);
    assert_eq!(f.catalog.authenticate("token-token-token").unwrap(), None);

    // An organization named "default" without keys is reused, not duplicated.
    let f = Fixture::new();
    let default = f.org("default");
    let principal = f.catalog.bootstrap("token-token-token").unwrap().unwrap();
    assert_eq!(principal.organization_id, default);
    assert_eq!(f.catalog.list_organizations().unwrap().len(), 1);
}

#[test]
fn logins_are_found_by_address_and_session_keys_expire() {
    let f = Fixture::new();
    let org = f.catalog.create_organization("acme").unwrap();
    let other = f.catalog.create_organization("other").unwrap();
    let ripley = f.catalog.create_user(&org.id, "ripley").unwrap();
    let dallas = f.catalog.create_user(&other.id, "dallas").unwrap();
    assert_eq!(f.catalog.find_login("ripley@example.com").unwrap(), None);

    f.catalog
        .set_user_login(
            &org.id,
            &ripley.id,
            "Ripley@Example.com",
            "$argon2id$x",
            Scope::Read,
        )
        .unwrap();
    let login = f
        .catalog
        .find_login(" ripley@EXAMPLE.com")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            login.organization_id.as_str(),
            login.user_id.as_str(),
            login.email.as_str()
        ),
        (org.id.as_str(), ripley.id.as_str(), "Ripley@Example.com")
    );
    assert_eq!(login.password_hash, "$argon2id$x");
    assert_eq!(login.session_scope, Scope::Read);

    // One address, one user, across organizations; a user of another organization is not
    // found through this one.
    let taken = f
        .catalog
        .set_user_login(
            &other.id,
            &dallas.id,
            "ripley@example.com",
            "h",
            Scope::Admin,
        )
        .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::AlreadyExists);
    let missing = f
        .catalog
        .set_user_login(&org.id, &dallas.id, "dallas@example.com", "h", Scope::Admin)
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    let bad = f
        .catalog
        .set_user_login(&org.id, &ripley.id, "not an address", "h", Scope::Read)
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);

    // The ticking clock reads START and up: a key that expires in a million ticks works, one
    // that expired before START does not.
    let (_, live) = f
        .catalog
        .create_session_key(&org.id, "session", Scope::Read, START + 1_000_000)
        .unwrap();
    let principal = f.catalog.authenticate(&live).unwrap().unwrap();
    assert_eq!(principal.scopes, Scope::Read.into());
    let (_, dead) = f
        .catalog
        .create_session_key(&org.id, "old session", Scope::Read, START - 1)
        .unwrap();
    assert_eq!(f.catalog.authenticate(&dead).unwrap(), None);
}
