//! The operator console (`/ui`) in a real browser (Debian's headless Chromium over `WebDriver`) against a real host on
//! the real dev server. Each scenario saves screenshots (see `order_host_tests::browser`).

use std::time::Duration;

use order_host_tests::api::Api;
use order_host_tests::browser::Browser;
use order_host_tests::db::{Backend, TestDb};
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::order_id;
use order_host_tests::{paths, wait};

async fn console_host(spec: HostSpec) -> (TestDb, TestHost, Api) {
    let db = TestDb::new(Backend::Sqlite).await;
    let host = TestHost::start(&db, HostSpec { http: true, ..spec }).await;
    let api = Api::new(&host);
    (db, host, api)
}

async fn start_order(api: &Api, id: &str, auth: &[(&str, &str)]) {
    let body = format!(r#"{{"payment_id":"pay-{id}"}}"#).into_bytes();
    let headers: Vec<_> = [("content-type", "application/json")].into_iter().chain(auth.iter().copied()).collect();
    let started = api.send("POST", &format!("/orders/{id}/start"), Some(body), &headers).await;
    assert_eq!(started.status, 202, "{started:?}");
}

/// Enters a token in the console's token form.
async fn use_token(browser: &Browser, token: &str, role: &str) {
    browser.fill("#token", token).await;
    browser.click("#token-form button[type=submit]").await;
    browser.wait_text("#role", &format!("the console to know the {role} role"), |t| t == format!("role: {role}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_appear_live_and_an_approval_from_the_page_ships_the_order() {
    let (_db, host, api) = console_host(HostSpec::default()).await;
    let browser = Browser::start().await;
    browser.goto(&host.url("/ui#/orders")).await;
    browser.wait_text("#role", "the console to know its role", |t| t.starts_with("role:")).await;
    browser.find("#orders").await;
    // Marks this page load: if the console reloaded the page to show the new order, the mark would be gone.
    browser.execute("window.consoleLoad = 'first'; return null;").await;

    let id = order_id("console");
    start_order(&api, &id, &[]).await;
    let row = format!("#orders tr[data-order-id='{id}']");
    browser.find(&row).await;
    browser
        .wait_text(&format!("{row} [data-state]"), "the table to show it awaiting approval", |t| {
            t == "awaiting approval"
        })
        .await;
    assert_eq!(browser.execute("return window.consoleLoad || null;").await, "first", "no reload");
    browser.screenshot("orders").await;
    browser.click("#awaiting").await;
    browser.find(&row).await;

    browser.click(&format!("{row} a")).await;
    browser.wait_text("#countdown", "the approval deadline counting down", |t| t.ends_with("s left")).await;
    browser.find("#approve").await;
    browser.screenshot("order-awaiting-approval").await;
    browser.click("#approve").await;
    browser.wait_text("h1 [data-state]", "the order to ship", |t| t == "shipped").await;
    for step in ["receive_order", "ship_order"] {
        browser.find(&format!("#timeline tr[data-activity='{step}'][data-outcome='completed']")).await;
    }
    for step in ["validate_order", "charge_payment", "prepare_package", "dispatch_carrier"] {
        let row = format!("#timeline tr[data-activity='{step}'][data-outcome='completed']");
        let digest = browser.text(&format!("{row} code")).await;
        assert_eq!(digest.len(), 12, "{step} shows the digest of the plugin that ran it: {digest:?}");
        assert!(browser.text(&row).await.contains("0.1.0"), "and its version");
    }
    assert_eq!(browser.text("#payment-panel [data-state]").await, "charged");
    assert!(browser.text("#shipping-panel").await.contains("UPS"));
    assert!(!browser.exists("#approve").await, "nothing to approve once shipped");
    browser.screenshot("order").await;

    browser.goto(&host.url("/ui#/overview")).await;
    browser.wait_text("[data-testid=counts]", "the overview's counts", |t| t.contains("shipped")).await;
    browser.screenshot("overview").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_shows_each_problem_next_to_its_field_and_changes_nothing() {
    let (_db, host, api) = console_host(HostSpec::default()).await;
    let id = order_id("console-address");
    start_order(&api, &id, &[]).await;
    let browser = Browser::start().await;
    browser.goto(&host.url(&format!("/ui#/orders/{id}"))).await;
    browser.find("#approve").await;
    browser.fill("#address-state", "Illinois").await;
    browser.fill("#address-zip_code", "62").await;
    browser.click("#change-address").await;
    let state = browser.wait_text("#error-state", "the state's problem", |t| !t.is_empty()).await;
    assert!(state.contains("two-letter"), "{state}");
    let zip = browser.text("#error-zip_code").await;
    assert!(zip.contains("5 digits"), "{zip}");
    assert_eq!(browser.text("#error-street").await, "", "nothing wrong with the street");
    browser.screenshot("order-address-refused").await;
    let status = api.get(&format!("/orders/{id}/status")).await;
    assert_eq!(status.body["address"]["state"], "IL", "nothing changed");
    assert_eq!(status.body["address"]["zip_code"], "62701");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_with_a_reason_from_the_page_refunds_a_charged_order() {
    // The parcel can never be packed, so the charged order waits in `shipping` until it is cancelled.
    let spec = HostSpec::default().with_flags(&["--failure-inject", "prepare_package:before:100000"]);
    let (_db, host, api) = console_host(spec).await;
    let id = order_id("console-cancel");
    start_order(&api, &id, &[]).await;
    wait::until(Duration::from_secs(30), "awaiting approval", || async {
        let status = api.get(&format!("/orders/{id}/status")).await;
        (status.body["state"] == "awaiting_approval").then_some(())
    })
    .await;
    assert_eq!(api.post_empty(&format!("/orders/{id}/signals/approve")).await.status, 200);

    let browser = Browser::start().await;
    browser.goto(&host.url(&format!("/ui#/orders/{id}"))).await;
    browser.wait_text("h1 [data-state]", "the order to be shipping", |t| t == "shipping").await;
    browser.wait_text("#payment-panel [data-state]", "the payment to be charged", |t| t == "charged").await;
    browser.fill("#cancel-reason", "customer called").await;
    browser.click("#cancel").await;
    browser.wait_text("h1 [data-state]", "the order to be cancelled", |t| t == "cancelled").await;
    browser.wait_text("#payment-panel [data-state]", "the refund", |t| t == "refunded").await;
    let events = browser.text("#timeline").await;
    assert!(events.contains("customer called"), "the reason is in the timeline: {events}");
    assert!(events.contains("refund_payment"), "{events}");
    browser.screenshot("order-cancelled-refunded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_only_its_actions_and_a_broken_upload_changes_nothing() {
    let tokens = ["--client-tokens", "c-token", "--operator-tokens", "o-token", "--admin-tokens", "a-token"];
    let (_db, host, api) = console_host(HostSpec::default().with_flags(&tokens)).await;
    let id = order_id("console-roles");
    start_order(&api, &id, &[("authorization", "Bearer c-token")]).await;
    let browser = Browser::start().await;
    browser.goto(&host.url("/ui#/plugins")).await;
    browser.wait_text("#role", "no token: no role", |t| t == "no role").await;

    // A client sees its order and may cancel it, but not approve it or read the order list.
    use_token(&browser, "c-token", "client").await;
    browser.goto(&host.url(&format!("/ui#/orders/{id}"))).await;
    browser.find("#cancel").await;
    browser.wait_text("h1 [data-state]", "awaiting approval", |t| t == "awaiting approval").await;
    assert!(!browser.exists("#approve").await, "a client may not approve");

    // An operator may approve, but sees no plugin administration.
    use_token(&browser, "o-token", "operator").await;
    browser.goto(&host.url(&format!("/ui#/orders/{id}"))).await;
    browser.find("#approve").await;
    browser.goto(&host.url("/ui#/plugins")).await;
    browser.find("#slot-payment").await;
    assert!(!browser.exists("#publish-payment").await, "an operator may not publish");
    assert!(!browser.exists("#rollback-payment").await, "an operator may not roll back");
    browser.screenshot("plugins-operator").await;

    // An admin may; a component of the wrong world is refused with the check's reason, and nothing changes.
    use_token(&browser, "a-token", "admin").await;
    browser.goto(&host.url("/ui#/plugins")).await;
    let active = browser.text("#slot-payment .active-version").await;
    let broken = paths::component("fixtures/wrong-world");
    browser.choose_file("#upload-payment", &broken).await;
    browser.click("#publish-payment").await;
    let refusal = browser.wait_text("#refusal-payment", "the refusal", |t| !t.is_empty()).await;
    assert!(refusal.contains("world") || refusal.contains("export"), "the check's reason: {refusal}");
    browser.screenshot("plugins-upload-refused").await;
    assert_eq!(browser.text("#slot-payment .active-version").await, active, "the active version is unchanged");
    let slot = api.send("GET", "/plugins/payment", None, &[("authorization", "Bearer a-token")]).await;
    assert_eq!(slot.body["active"]["digest"], paths::digest_of("payment"), "{slot:?}");
}
