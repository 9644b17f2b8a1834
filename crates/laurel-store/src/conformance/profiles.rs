//! Display names.

use super::*;

/// A display name is kept per app and user, replaced by the next one (any
/// Unicode text the caller validated), and removed with `None`.
pub async fn display_names_are_per_app_and_user(store: &dyn Store) {
    let (a, b) = (app(81), app(82));
    assert_eq!(store.display_name(a, user(1)).await.expect("read"), None);
    store
        .set_display_name(a, user(1), Some("Gordon".into()))
        .await
        .expect("set");
    store
        .set_display_name(b, user(1), Some("Ünïcødé 名前 🎮".into()))
        .await
        .expect("set");
    store
        .set_display_name(a, user(1), Some("Alyx".into()))
        .await
        .expect("replace");
    assert_eq!(
        store
            .display_name(a, user(1))
            .await
            .expect("read")
            .as_deref(),
        Some("Alyx")
    );
    assert_eq!(
        store
            .display_name(b, user(1))
            .await
            .expect("read")
            .as_deref(),
        Some("Ünïcødé 名前 🎮")
    );
    assert_eq!(store.display_name(a, user(2)).await.expect("read"), None);
    store
        .set_display_name(a, user(1), None)
        .await
        .expect("remove");
    assert_eq!(store.display_name(a, user(1)).await.expect("read"), None);
    assert!(
        store
            .display_name(b, user(1))
            .await
            .expect("read")
            .is_some()
    );
}
