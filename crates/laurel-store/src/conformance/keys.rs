//! Server keys, the token-signing secret, and the health check.

use super::*;

pub async fn keys_create_find_revoke(store: &dyn Store) {
    let app7 = setup(store).await;
    let app3 = app(3);
    store
        .put_schema(app3, many_achievements_schema(1))
        .await
        .expect("put");
    let first = store
        .create_key(app7, "ci", "hash-1", NOW)
        .await
        .expect("create");
    let second = store
        .create_key(app7, "server", "hash-2", NOW + 1)
        .await
        .expect("create");
    let other = store
        .create_key(app3, "other", "hash-3", NOW + 2)
        .await
        .expect("create");
    assert_eq!(
        (
            first.app,
            first.label.as_str(),
            first.created,
            first.revoked
        ),
        (app7, "ci", NOW, false)
    );
    assert!(first.id != second.id && second.id != other.id);

    assert_eq!(
        store.keys(app7).await.expect("keys"),
        [first.clone(), second.clone()]
    );
    assert_eq!(store.keys(app3).await.expect("keys"), [other]);
    assert_eq!(
        store.find_key("hash-2").await.expect("find"),
        Some(second.clone())
    );
    assert_eq!(store.find_key("nope").await.expect("find"), None);

    assert!(
        !store.revoke_key(app3, second.id).await.expect("revoke"),
        "another app's key"
    );
    assert!(!store.revoke_key(app7, i64::MAX).await.expect("revoke"));
    assert!(store.revoke_key(app7, second.id).await.expect("revoke"));
    assert_eq!(store.find_key("hash-2").await.expect("find"), None);
    assert_eq!(
        store.find_key("hash-1").await.expect("find"),
        Some(first.clone())
    );
    let listed = store.keys(app7).await.expect("keys");
    assert_eq!(listed.len(), 2, "revoked keys stay listed");
    assert!(listed[1].revoked && !listed[0].revoked);
}

pub async fn signing_secret_is_stable(store: &dyn Store) {
    let secret = store.signing_secret().await.expect("secret");
    assert_eq!(secret.len(), 32);
    assert!(secret.iter().any(|&b| b != 0), "random, not zeroed");
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
}

pub async fn health_answers(store: &dyn Store) {
    store.health().await.expect("health");
}
