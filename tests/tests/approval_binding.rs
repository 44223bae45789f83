//! Issue 10 (critical): a sign-in request can be advanced only by the browser that completed
//! the connector login. The attack (the class of Dex's CVE-2022-39222): the attacker opens the
//! app, is sent to `…/dex/auth/<connector>?req=A`, makes the victim open that URL and sign in,
//! then answers `/approval` for `req=A` from their own browser — which holds the filter's login
//! cookie for that state — and would be signed in as the victim. Real Envoy + .wasm + broker,
//! for the local password connector and for the oidc connector against npm `oidc-provider`,
//! with the approval screen on and off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_e2e::oidc_peer::{OidcPeer, Tamper, CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::{Browser, LogDir, Page, Stack, StackOptions, StackPorts, ADMIN};
use serde_json::json;
use url::Url;

const ALICE: &str = "alice@example.org";

fn approval_screen(on: bool) -> Vec<(String, String)> {
    if on {
        vec![(
            "skipApprovalScreen: true".into(),
            "skipApprovalScreen: false".into(),
        )]
    } else {
        Vec::new()
    }
}

fn local_stack(name: &str, approval: bool) -> Stack {
    Stack::start(StackOptions {
        broker_yaml_replace: approval_screen(approval),
        ..StackOptions::named(name)
    })
    .unwrap()
}

/// A stack whose broker also has the `oidc` connector `upstream` (npm oidc-provider, signing
/// Alice in without a form). The peer must outlive the stack.
fn upstream_stack(name: &str, approval: bool) -> (Stack, OidcPeer) {
    let ports = StackPorts::free().unwrap();
    let callback = format!("http://127.0.0.1:{}/dex/callback", ports.broker);
    let logs = LogDir::for_test(&format!("{name}_peer")).unwrap();
    let account = json!({
        "sub": "alice-0001", "email": ALICE, "email_verified": true,
        "name": "Alice Liddell", "preferred_username": "alice", "groups": ["admins"],
    });
    let peer = OidcPeer::start(&logs, &callback, account, Tamper::None, false).unwrap();
    let peer_issuer = &peer.issuer;
    let connector = format!(
        "connectors:\n- type: oidc\n  id: upstream\n  name: Upstream OIDC\n  config:\n    issuer: \"{peer_issuer}\"\n    clientID: \"{CLIENT_ID}\"\n    clientSecret: \"{CLIENT_SECRET}\"\n    redirectURI: \"{callback}\"\n    scopes: [profile, email]\n"
    );
    let stack = Stack::start(StackOptions {
        ports: Some(ports),
        extra_broker_yaml: Some(connector),
        broker_yaml_replace: approval_screen(approval),
        ..StackOptions::named(name)
    })
    .unwrap();
    (stack, peer)
}

/// The attacker's first step: open the app and stop where the broker sends the browser to a
/// connector, returning that URL (`…/dex/auth/<connector>?req=A`) — what the victim is sent.
fn attacker_link(stack: &Stack, attacker: &mut Browser, connector: &str) -> Url {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut page = attacker.get(&stack.url("/private")).unwrap();
    while page.status == 503 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        page = attacker.get(&stack.url("/private")).unwrap();
    }
    let wanted = format!("/dex/auth/{connector}");
    let page = attacker
        .follow_until(page, |p| {
            p.location().is_some_and(|l| l.path() == wanted) || p.url.path() == wanted
        })
        .unwrap();
    if let Some(l) = page.location().filter(|l| l.path() == wanted) {
        return l;
    }
    if page.url.path() == wanted {
        return page.url.clone();
    }
    // The connector chooser: the link to that connector.
    page.links()
        .into_iter()
        .find(|l| l.path() == wanted)
        .unwrap_or_else(|| panic!("no link to {wanted}: {}", page.body))
}

fn request_id(link: &Url) -> String {
    link.query_pairs()
        .find(|(k, _)| k == "req")
        .map(|(_, v)| v.into_owned())
        .expect("req in the connector link")
}

/// The victim opens the attacker's link and signs in; returns the broker's answer to the step
/// that completed the connector login (not followed further than the broker's own pages).
fn victim_signs_in(stack: &Stack, victim: &mut Browser, link: &Url, local: bool) -> Page {
    let page = victim.get(link.as_str()).unwrap();
    if local {
        let form = page.login_form().unwrap();
        return victim
            .post_form(
                form.action.as_str(),
                &form.fields(ADMIN.email, ADMIN.password),
            )
            .unwrap();
    }
    // Through the upstream provider and back to /callback; stop at the broker's answer.
    let issuer = stack.issuer().to_string();
    victim
        .follow_until(page, |p| {
            p.url.as_str().starts_with(&format!("{issuer}/callback"))
        })
        .unwrap()
}

fn is_code_redirect(page: &Page, stack: &Stack) -> bool {
    page.location().is_some_and(|l| {
        l.as_str().starts_with(&stack.url("/oauth2/callback"))
            && l.query_pairs().any(|(k, _)| k == "code")
    })
}

/// What the attacker can do with `req` alone, from a browser without the victim's cookies.
fn attacker_gets_nothing(stack: &Stack, attacker: &mut Browser, req: &str, who: &str) {
    let approval = format!("{}/approval", stack.issuer());
    let viewed = attacker
        .get(&format!(
            "{approval}?req={}",
            url::form_urlencoded::byte_serialize(req.as_bytes()).collect::<String>()
        ))
        .unwrap();
    assert!(
        !viewed.body.contains(who),
        "GET /approval showed the victim to the attacker: {} {}",
        viewed.status,
        viewed.body
    );
    assert_ne!(viewed.status, 200, "{}", viewed.body);
    for answer in ["approve", "deny"] {
        let posted = attacker
            .post_form(&approval, &[("req", req), ("approval", answer)])
            .unwrap();
        assert!(
            !posted.is_redirect(),
            "POST /approval {answer} by the attacker was answered with a redirect: {:?}",
            posted.location()
        );
        assert_eq!(posted.status, 403, "{}", posted.body);
    }
    // And the attacker's browser is not signed in as anyone.
    let mine = attacker.get(&stack.url("/private")).unwrap();
    assert_ne!(mine.status, 200, "{}", mine.body);
}

/// The victim's own browser still completes: it holds the binding cookie.
fn victim_approves(stack: &Stack, victim: &mut Browser, answer: &Page, who: &str) {
    assert!(answer.is_redirect(), "{} {}", answer.status, answer.body);
    let shown = victim.follow(answer).unwrap();
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(who), "{}", shown.body);
    let form = shown.form().unwrap();
    let mut fields = form.hidden.clone();
    fields.push(("approval".into(), "approve".into()));
    let posted = victim.post_form(form.action.as_str(), &fields).unwrap();
    assert!(
        is_code_redirect(&posted, stack),
        "{} {:?} {}",
        posted.status,
        posted.location(),
        posted.body
    );
}

fn approval_on(stack: &Stack, connector: &str, who: &str) {
    let mut attacker = Browser::new().unwrap();
    let link = attacker_link(stack, &mut attacker, connector);
    let req = request_id(&link);
    let mut victim = Browser::new().unwrap();
    let answer = victim_signs_in(stack, &mut victim, &link, connector == "local");
    assert!(
        answer
            .location()
            .is_some_and(|l| l.path() == "/dex/approval"),
        "{} {:?}\n{}",
        answer.status,
        answer.location(),
        victim.history_text()
    );
    attacker_gets_nothing(stack, &mut attacker, &req, who);
    victim_approves(stack, &mut victim, &answer, who);
    assert!(
        stack.echo.requests().is_empty(),
        "someone reached the upstream app: {:?}",
        stack.echo.requests()
    );
}

/// With the approval screen off there must be no moment at which the request holds the
/// identity and can be turned into a code by anyone else: the attacker hammers `/approval`
/// for `req=A` while the victim signs in, and never gets a code or sees who signed in.
fn approval_off(stack: &Stack, connector: &str, who: &'static str) {
    let mut attacker = Browser::new().unwrap();
    let link = attacker_link(stack, &mut attacker, connector);
    let req = request_id(&link);
    let approval = format!("{}/approval", stack.issuer());
    let done = Arc::new(AtomicBool::new(false));
    let hammer = {
        let done = done.clone();
        let mut attacker = attacker.clone();
        let req = req.clone();
        let callback = stack.url("/oauth2/callback");
        std::thread::spawn(move || {
            let mut tries = 0;
            while !done.load(Ordering::SeqCst) || tries < 20 {
                tries += 1;
                let posted = attacker
                    .post_form(&approval, &[("req", req.as_str()), ("approval", "approve")])
                    .unwrap();
                if posted
                    .location()
                    .is_some_and(|l| l.as_str().starts_with(&callback))
                {
                    return Some(format!("POST /approval gave {:?}", posted.location()));
                }
                let viewed = attacker.get(&format!("{approval}?req={req}")).unwrap();
                if viewed.body.contains(who) {
                    return Some("GET /approval showed the victim".to_string());
                }
            }
            None
        })
    };
    let mut victim = Browser::new().unwrap();
    let answer = victim_signs_in(stack, &mut victim, &link, connector == "local");
    done.store(true, Ordering::SeqCst);
    let leak = hammer.join().unwrap();
    assert_eq!(leak, None, "the attacker advanced the victim's sign-in");
    assert!(
        is_code_redirect(&answer, stack),
        "the code comes in the response that completes the login: {} {:?}",
        answer.status,
        answer.location()
    );
    let mine = attacker.get(&stack.url("/private")).unwrap();
    assert_ne!(mine.status, 200, "{}", mine.body);
}

#[test]
fn local_connector_approval_on_only_the_signing_in_browser_advances() {
    let stack = local_stack("approval_binding_local_on", true);
    approval_on(&stack, "local", ADMIN.email);
}

#[test]
fn local_connector_approval_off_no_window_for_anyone_else() {
    let stack = local_stack("approval_binding_local_off", false);
    approval_off(&stack, "local", ADMIN.email);
}

#[test]
fn oidc_connector_approval_on_only_the_signing_in_browser_advances() {
    let (stack, _peer) = upstream_stack("approval_binding_oidc_on", true);
    approval_on(&stack, "upstream", ALICE);
}

#[test]
fn oidc_connector_approval_off_no_window_for_anyone_else() {
    let (stack, _peer) = upstream_stack("approval_binding_oidc_off", false);
    approval_off(&stack, "upstream", ALICE);
}

/// A second sign-in on a request someone already signed in on does not replace the first one
/// (nor its browser binding): the attacker cannot re-bind the victim's request to themselves.
#[test]
fn a_second_sign_in_on_the_same_request_is_refused() {
    let stack = local_stack("approval_binding_second_sign_in", true);
    let mut attacker = Browser::new().unwrap();
    let link = attacker_link(&stack, &mut attacker, "local");
    let mut victim = Browser::new().unwrap();
    let answer = victim_signs_in(&stack, &mut victim, &link, true);
    assert!(answer.is_redirect(), "{}", answer.body);
    let again = victim_signs_in(&stack, &mut attacker, &link, true);
    assert!(!again.is_redirect(), "{:?}", again.location());
    assert!(again.headers.get("set-cookie").is_none());
    victim_approves(&stack, &mut victim, &answer, ADMIN.email);
}
