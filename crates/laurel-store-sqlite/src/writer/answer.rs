//! How the writer answers its callers: each answer is held back until its
//! transaction's COMMIT has returned.

use laurel_store::StoreError;
use tokio::sync::oneshot;

use crate::rows::same_error;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// An answer held back until its transaction's COMMIT has returned; called
/// with the COMMIT's error if it failed. A caller that stopped waiting is no
/// error: its write stands, and a retry with the same idempotency key gets
/// the same answer.
pub(super) type Answer = Box<dyn FnOnce(Option<&StoreError>) + Send>;

pub(super) fn answer<T: Send + 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Answer {
    Box::new(move |failed: Option<&StoreError>| {
        let _ = reply.send(match failed {
            Some(e) => Err(same_error(e)),
            None => result,
        });
    })
}
