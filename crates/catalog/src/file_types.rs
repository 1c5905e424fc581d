//! Files attached to runs, annotations and annotation logs, and annotation logs themselves:
//! the catalog's side of them (their bytes live in the storage crate's blob store).

use serde::{Deserialize, Serialize};
use sextant_model::Timestamp;

/// What a file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileEntity {
    /// A run.
    Run,
    /// An annotation.
    Annotation,
    /// An entry of an annotation's log.
    AnnotationLog,
}

impl FileEntity {
    /// Every kind, in the order of Sift's `EntityType`.
    pub const ALL: [FileEntity; 3] = [
        FileEntity::Run,
        FileEntity::Annotation,
        FileEntity::AnnotationLog,
    ];

    /// The stored name, also the name filters use: `run`, `annotation`, `annotation_log`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileEntity::Run => "run",
            FileEntity::Annotation => "annotation",
            FileEntity::AnnotationLog => "annotation_log",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// What a client says about a media file, to render it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileMetadata {
    /// An image.
    Image {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
    },
    /// A video.
    Video {
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
        /// Its length.
        duration_seconds: f32,
        /// When it was recorded.
        timestamp: Option<Timestamp>,
    },
    /// A sound recording.
    Audio {
        /// Its length.
        duration_seconds: f32,
        /// When it was recorded.
        timestamp: Option<Timestamp>,
    },
}

/// A file to record, once its bytes are durable in the blob store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRemoteFile {
    /// Its id, which also names its blob; chosen by the caller before the bytes are written.
    pub id: String,
    /// What it is attached to.
    pub entity_type: FileEntity,
    /// The id of the run, annotation or annotation log.
    pub entity_id: String,
    /// The name it was uploaded with.
    pub file_name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its `Content-Encoding` (`gzip`, say), empty when none.
    pub content_encoding: String,
    /// Its length in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes.
    pub sha256: [u8; 32],
    /// A description.
    pub description: Option<String>,
    /// Image, video or audio details.
    pub metadata: Option<FileMetadata>,
    /// The key that uploaded it.
    pub created_by: String,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteFile {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// What it is attached to.
    pub entity_type: FileEntity,
    /// The id of the run, annotation or annotation log.
    pub entity_id: String,
    /// The name it was uploaded with.
    pub file_name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its `Content-Encoding`, empty when none.
    pub content_encoding: String,
    /// Its length in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes.
    pub sha256: [u8; 32],
    /// A description.
    pub description: Option<String>,
    /// Image, video or audio details.
    pub metadata: Option<FileMetadata>,
    /// The key that uploaded it.
    pub created_by: String,
    /// The key that last changed it.
    pub modified_by: String,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When it last changed.
    pub modified_at: Timestamp,
}

/// Which files a listing returns; `None` allows any value, a list allows those values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteFileFilter {
    /// File ids.
    pub ids: Option<Vec<String>>,
    /// Entity kinds, by [`FileEntity::as_str`] name.
    pub entity_types: Option<Vec<String>>,
    /// Entity ids.
    pub entity_ids: Option<Vec<String>>,
    /// File names.
    pub file_names: Option<Vec<String>>,
}

/// One element of a comment: text, or a mention of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommentElement {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A user mentioned.
    Mention {
        /// Their id.
        user_id: String,
        /// Their email.
        user_email: String,
    },
}

/// What an annotation log entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnnotationLogEntry {
    /// A comment.
    Comment {
        /// Its elements, in order.
        body: Vec<CommentElement>,
    },
    /// The annotation's review state changed (`open`, `flagged`, `resolved`).
    StateUpdate {
        /// The new state.
        state: String,
    },
    /// The annotation was assigned.
    Assigned {
        /// The assignee's id.
        user_id: String,
        /// The assignee's email.
        user_email: String,
    },
}

/// An entry of an annotation's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationLog {
    /// UUID v4.
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The annotation it belongs to.
    pub annotation_id: String,
    /// What it records.
    pub entry: AnnotationLogEntry,
    /// The key that wrote it.
    pub created_by: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it last changed.
    pub modified_at: Timestamp,
}
