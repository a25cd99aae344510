//! Replays recorded histories against today's workflow code: a change that would break orders already running
//! fails here. Histories live in `tests/histories/`, one or more per version of the workflow code that made them:
//! record with `RECORD_HISTORIES=<empty dir> cargo test -p order-host-tests -- lifecycle` and add the new files
//! under names of their own (the recorder never overwrites; an old history is the only replay of old code).

use std::path::PathBuf;

use order_host::workflows::{OrderWorkflow, ShippingWorkflow};
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayError, WorkflowReplayer, WorkflowReplayerOptions};

fn histories() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("histories");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    found.sort();
    found
}

fn replayer() -> WorkflowReplayer {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<OrderWorkflow>()
        .unwrap()
        .register_workflow::<ShippingWorkflow>()
        .unwrap()
        .build();
    WorkflowReplayer::new(options).unwrap()
}

#[tokio::test]
async fn recorded_histories_replay_cleanly() {
    let histories = histories();
    let names: Vec<_> = histories.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "shipped.json",
        "shipped-shipping.json",
        "cancelled-after-charge.json",
        "redispatched.json",
        "shipped-money-and-ownership.json",
        "shipped-order-state.json",
        "shipped-local-steps.json",
        "shipped-local-steps-shipping.json",
        "cancelled-after-charge-local-steps.json",
        "redispatched-local-steps.json",
        "shipped-delegated.json",
        "shipped-delegated-shipping.json",
        "cancelled-after-charge-delegated.json",
        "cancelled-after-charge-delegated-shipping.json",
        "redispatched-delegated.json",
        "redispatched-delegated-shipping.json",
        "shipped-committed.json",
        "shipped-committed-shipping.json",
        "cancelled-after-charge-committed.json",
        "cancelled-after-charge-committed-shipping.json",
        "redispatched-committed.json",
        "redispatched-committed-shipping.json",
        "shipped-claimed.json",
        "shipped-claimed-shipping.json",
        "cancelled-after-charge-claimed.json",
        "cancelled-after-charge-claimed-shipping.json",
        "redispatched-claimed.json",
        "redispatched-claimed-shipping.json",
        "shipped-unmarked.json",
        "shipped-unmarked-shipping.json",
        "cancelled-after-charge-unmarked.json",
        "cancelled-after-charge-unmarked-shipping.json",
        "redispatched-unmarked.json",
        "redispatched-unmarked-shipping.json",
    ] {
        assert!(names.contains(&expected), "missing recorded history {expected}: have {names:?}");
    }
    let replayer = replayer();
    for (name, json) in histories {
        let history = WorkflowHistory::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        replayer.replay_workflow(history).await.unwrap_or_else(|e| panic!("{name} no longer replays: {e}"));
    }
}

#[tokio::test]
async fn a_changed_history_is_caught_as_nondeterministic() {
    // Rename the first activity the recorded order scheduled: replaying must notice the code asks for another one.
    let (_, json) = histories().into_iter().find(|(n, _)| n == "shipped.json").expect("shipped.json recorded");
    let tampered = String::from_utf8(json).unwrap().replacen("\"receive_order\"", "\"receive_order_v0\"", 1);
    let history = WorkflowHistory::from_json(tampered.as_bytes()).unwrap();
    let err = replayer().replay_workflow(history).await.expect_err("a changed history must not replay");
    assert!(matches!(err, WorkflowReplayError::Replay(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("nondetermin"), "{err}");
}

/// `history` with its workflow input changed by `change`: what the run would have recorded had its starter sent
/// that input.
fn with_input(name: &str, history: &[u8], change: impl FnOnce(&mut serde_json::Value)) -> WorkflowHistory {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut doc: serde_json::Value = serde_json::from_slice(history).unwrap();
    let data =
        &mut doc["events"][0]["attributes"]["WorkflowExecutionStartedEventAttributes"]["input"]["payloads"][0]["data"];
    let mut input: serde_json::Value =
        serde_json::from_slice(&STANDARD.decode(data.as_str().expect("input data")).unwrap()).unwrap();
    change(&mut input);
    *data = STANDARD.encode(serde_json::to_vec(&input).unwrap()).into();
    WorkflowHistory::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn recorded(histories: &[(String, Vec<u8>)], name: &str) -> Vec<u8> {
    histories.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} recorded")).1.clone()
}

/// A child whose parent asked it to claim (`"claims": true`) but that a worker of the previous code ran — that code
/// ignores the field and records its `committed-dispatch` marker — replays on the path its marker names. Today's code
/// takes the claiming path, without a marker, only where the history holds none.
#[tokio::test]
async fn a_child_asked_to_claim_that_older_code_ran_replays_as_it_ran() {
    let histories = histories();
    for name in [
        "shipped-committed-shipping.json",
        "cancelled-after-charge-committed-shipping.json",
        "redispatched-committed-shipping.json",
    ] {
        let history = with_input(name, &recorded(&histories, name), |input| {
            assert_eq!(input["delegated"], true, "{name}");
            input["claims"] = true.into();
        });
        replayer().replay_workflow(history).await.unwrap_or_else(|e| panic!("{name} asked to claim: {e}"));
    }
}

/// An order whose starter asked for this revision of the lifecycle (`"revision": 1`) but that a worker of older code
/// ran — it ignores the field and records its patch markers — replays on the paths its markers name, whichever they
/// are. Today's code takes the revision without a marker only where the history holds none.
#[tokio::test]
async fn an_order_asked_for_the_revision_that_older_code_ran_replays_as_it_ran() {
    let histories = histories();
    for name in [
        "shipped-claimed.json",
        "cancelled-after-charge-claimed.json",
        "redispatched-claimed.json",
        "shipped-local-steps.json",
        "shipped-order-state.json",
        "shipped-money-and-ownership.json",
    ] {
        let history = with_input(name, &recorded(&histories, name), |input| {
            assert!(input.get("revision").is_none(), "{name}");
            input["revision"] = order_host::workflows::patches::REVISION.into();
        });
        replayer().replay_workflow(history).await.unwrap_or_else(|e| panic!("{name} asked for the revision: {e}"));
    }
}

/// What says an order ran the revision without markers is its input: the same history without `"revision"` reads as
/// one that older code ran without any patch, and does not replay.
#[tokio::test]
async fn an_unmarked_order_without_its_revision_is_caught_as_nondeterministic() {
    let histories = histories();
    let name = "shipped-unmarked.json";
    let history = with_input(name, &recorded(&histories, name), |input| {
        assert_eq!(input["revision"], order_host::workflows::patches::REVISION, "{name}");
        input.as_object_mut().unwrap().remove("revision");
    });
    let err = replayer().replay_workflow(history).await.expect_err("replayed on the wrong paths");
    assert!(err.to_string().to_lowercase().contains("nondetermin"), "{err}");
}
