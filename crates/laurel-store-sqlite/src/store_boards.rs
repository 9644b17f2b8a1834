//! The leaderboard calls of [`SqliteStore`]'s [`laurel_store::Store`]
//! implementation (`store.rs` delegates here): reads on the read-only pool,
//! writes to the writer thread as group items.

use laurel_core::leaderboard::{BoardName, LeaderboardDef};
use laurel_core::{AppId, SteamId, UnixTime};
use laurel_store::StoreError;
use laurel_store::audit::AuditDraft;
use laurel_store::boards::{
    Board, BoardChanges, BoardId, BoardSummary, PeriodStart, StoredEntry, UploadReply,
    UploadRequest,
};

use crate::SqliteStore;
use crate::boards;
use crate::rows::Context;
use crate::writer::{BoardItem, Command, GroupItem, Reply};

impl SqliteStore {
    async fn board_write<T>(
        &self,
        item: impl FnOnce(Reply<T>) -> BoardItem,
    ) -> Result<T, StoreError> {
        self.write(|reply| Command::Group(GroupItem::Board(item(reply))))
            .await
    }

    pub(crate) async fn list_boards(
        &self,
        app: AppId,
        now: UnixTime,
    ) -> Result<Vec<BoardSummary>, StoreError> {
        self.check_open()?;
        self.reads
            .run(move |c| {
                // One snapshot: the boards and their counts.
                let tx = c.transaction().context("beginning a read")?;
                boards::list_boards(&tx, app, now)
            })
            .await
    }

    pub(crate) async fn find_board(
        &self,
        app: AppId,
        name: &BoardName,
    ) -> Result<Option<Board>, StoreError> {
        self.check_open()?;
        let name = name.clone();
        self.reads
            .run(move |c| {
                boards::board_named(c, app, &name)?
                    .map(|row| row.board())
                    .transpose()
            })
            .await
    }

    pub(crate) async fn create_board(
        &self,
        app: AppId,
        def: &LeaderboardDef,
    ) -> Result<(Board, bool), StoreError> {
        let def = Box::new(def.clone());
        self.board_write(|reply| BoardItem::Create { app, def, reply })
            .await
    }

    pub(crate) async fn delete_board(
        &self,
        app: AppId,
        board: BoardId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        let audit = Box::new(audit);
        self.board_write(|reply| BoardItem::Delete {
            app,
            board,
            audit,
            reply,
        })
        .await
    }

    pub(crate) async fn reset_board(
        &self,
        app: AppId,
        board: BoardId,
        audit: AuditDraft,
    ) -> Result<u64, StoreError> {
        let audit = Box::new(audit);
        self.board_write(|reply| BoardItem::Reset {
            app,
            board,
            audit,
            reply,
        })
        .await
    }

    pub(crate) async fn delete_entry(
        &self,
        (app, board, period, user): (AppId, BoardId, PeriodStart, SteamId),
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        let audit = Box::new(audit);
        self.board_write(|reply| BoardItem::DeleteEntry {
            app,
            board,
            period,
            user,
            audit,
            reply,
        })
        .await
    }

    pub(crate) async fn upload(&self, request: UploadRequest) -> Result<UploadReply, StoreError> {
        let request = Box::new(request);
        self.board_write(|reply| BoardItem::Upload { request, reply })
            .await
    }

    pub(crate) async fn changes(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        cursor: u64,
    ) -> Result<BoardChanges, StoreError> {
        self.check_open()?;
        self.reads
            .run(move |c| {
                // One snapshot: the board's epoch and its changes.
                let tx = c.transaction().context("beginning a read")?;
                boards::board_changes(&tx, app, board, period, cursor)
            })
            .await
    }

    pub(crate) async fn put_friends(
        &self,
        app: AppId,
        user: SteamId,
        friends: &[SteamId],
    ) -> Result<(), StoreError> {
        let friends = friends.to_vec();
        self.board_write(|reply| BoardItem::SetFriends {
            app,
            user,
            friends,
            reply,
        })
        .await
    }

    pub(crate) async fn read_friends(
        &self,
        app: AppId,
        user: SteamId,
    ) -> Result<Vec<SteamId>, StoreError> {
        self.check_open()?;
        self.reads.run(move |c| boards::friends(c, app, user)).await
    }

    pub(crate) async fn read_friend_lists(
        &self,
        app: AppId,
    ) -> Result<Vec<(SteamId, Vec<SteamId>)>, StoreError> {
        self.check_open()?;
        self.reads.run(move |c| boards::friend_lists(c, app)).await
    }

    pub(crate) async fn entries_of(
        &self,
        app: AppId,
        board: BoardId,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.check_open()?;
        self.reads
            .run(move |c| {
                let tx = c.transaction().context("beginning a read")?;
                boards::stored_entries(&tx, app, board)
            })
            .await
    }

    pub(crate) async fn import_board_entries(
        &self,
        app: AppId,
        board: BoardId,
        entries: &[StoredEntry],
    ) -> Result<(), StoreError> {
        let entries = entries.to_vec();
        self.board_write(|reply| BoardItem::Import {
            app,
            board,
            entries,
            reply,
        })
        .await
    }
}
