//! Golden frames of `/elohim/sync/1.0.0` as the Rust node writes them, with the real rmp-serde.
//!
//! The message types below are written from the Rust node's field lists (variant names, field
//! names, field order and field types are the wire contract); `B` is the type of every
//! `Vec<u8>` field, so one definition gives both encodings:
//!  - `Vec<u8>`: what the Rust node sends (rmp-serde writes it as an array of integers);
//!  - `serde_bytes::ByteBuf`: MessagePack `bin`, what our peers send.
//!
//! For every variant it prints (JSON, to stdout) the MessagePack body of `to_vec` with
//! `Vec<u8>` ("rust"), of `to_vec` with `bin` ("bin") and of `to_vec_named` with `Vec<u8>`
//! ("named"), and whether this rmp-serde reads the `bin` form back into the Rust node's own
//! types ("rust_reads_bin"). Regenerate with
//!
//!   cd scripts/sync-golden && cargo run --quiet > ../../src/sync/golden/sync-1.0.0.json
//!
//! (from this folder: `.cargo/config.toml` here takes the crates from Debian's packages).
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_bytes::ByteBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum SyncRequest<B> {
    GetHeads { app_id: String, doc_id: String },
    SyncChanges { app_id: String, doc_id: String, have_heads: Vec<String>, bloom_filter: Option<B> },
    GetChanges { app_id: String, doc_id: String, change_hashes: Vec<String> },
    AnnounceChange { app_id: String, doc_id: String, change_hash: String, change_data: Option<B> },
    ListDocuments { app_id: String, prefix: Option<String>, offset: u32, limit: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum SyncResponse<B> {
    Heads { app_id: String, doc_id: String, heads: Vec<String>, change_count: u64 },
    Changes { app_id: String, doc_id: String, changes: Vec<B>, has_more: bool, new_heads: Vec<String> },
    RequestedChanges { app_id: String, doc_id: String, changes: Vec<(String, B)>, not_found: Vec<String> },
    ChangeAck { app_id: String, doc_id: String, was_new: bool },
    DocumentList { app_id: String, documents: Vec<DocumentInfo>, total: u64, has_more: bool },
    NotFound { app_id: String, doc_id: String },
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DocumentInfo {
    doc_id: String,
    doc_type: String,
    change_count: u64,
    last_modified: u64,
    heads: Vec<String>,
}

const APP: &str = "elohim-web";
const DOC: &str = "2t5Zx1kmPVrGmjBCdtPjQRPJAVsn";
const H1: &str = "b33ef028e209b50c027dda1bc0480287da523ae60d2492c9428f589d5b729372";
const H2: &str = "f28234e60a39b59b67c4f95aac540a84c9f90813c7a01e191c5c2d55fae8799f";

fn s(v: &str) -> String {
    v.to_string()
}

/// Bytes that need every integer marker: fixint, uint8 (≥ 0x80), and zero.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed)).collect()
}

fn requests() -> Vec<(&'static str, SyncRequest<Vec<u8>>)> {
    vec![
        ("GetHeads", SyncRequest::GetHeads { app_id: s(APP), doc_id: s(DOC) }),
        (
            "SyncChanges",
            SyncRequest::SyncChanges { app_id: s(APP), doc_id: s(DOC), have_heads: vec![s(H1)], bloom_filter: None },
        ),
        (
            "SyncChanges with bloom filter",
            SyncRequest::SyncChanges {
                app_id: s(APP),
                doc_id: s(DOC),
                have_heads: vec![],
                bloom_filter: Some(bytes(20, 200)),
            },
        ),
        (
            "GetChanges",
            SyncRequest::GetChanges { app_id: s(APP), doc_id: s(DOC), change_hashes: vec![s(H1), s(H2)] },
        ),
        (
            "AnnounceChange",
            SyncRequest::AnnounceChange {
                app_id: s(APP),
                doc_id: s(DOC),
                change_hash: s(H2),
                change_data: Some(bytes(40, 0x85)),
            },
        ),
        (
            "AnnounceChange without data",
            SyncRequest::AnnounceChange { app_id: s(APP), doc_id: s(DOC), change_hash: s(H2), change_data: None },
        ),
        (
            "ListDocuments",
            SyncRequest::ListDocuments { app_id: s("elohim"), prefix: None, offset: 0, limit: 1000 },
        ),
        (
            "ListDocuments with prefix",
            SyncRequest::ListDocuments { app_id: s(APP), prefix: Some(s("library")), offset: 70000, limit: 20 },
        ),
    ]
}

fn responses() -> Vec<(&'static str, SyncResponse<Vec<u8>>)> {
    vec![
        (
            "Heads",
            SyncResponse::Heads { app_id: s(APP), doc_id: s(DOC), heads: vec![s(H1)], change_count: 300 },
        ),
        (
            "Changes",
            SyncResponse::Changes {
                app_id: s(APP),
                doc_id: s(DOC),
                changes: vec![bytes(30, 7), bytes(3, 0xfe)],
                has_more: true,
                new_heads: vec![s(H1), s(H2)],
            },
        ),
        (
            "Changes, none",
            SyncResponse::Changes { app_id: s(APP), doc_id: s(DOC), changes: vec![], has_more: false, new_heads: vec![] },
        ),
        (
            "RequestedChanges",
            SyncResponse::RequestedChanges {
                app_id: s(APP),
                doc_id: s(DOC),
                changes: vec![(s(H1), bytes(17, 0x80))],
                not_found: vec![s(H2)],
            },
        ),
        ("ChangeAck", SyncResponse::ChangeAck { app_id: s(APP), doc_id: s(DOC), was_new: true }),
        (
            "DocumentList",
            SyncResponse::DocumentList {
                app_id: s(APP),
                documents: vec![
                    DocumentInfo {
                        doc_id: s(DOC),
                        doc_type: s("library"),
                        change_count: 3,
                        last_modified: 1_796_573_541_000,
                        heads: vec![s(H1)],
                    },
                    DocumentInfo {
                        doc_id: s("graph:alpha"),
                        doc_type: s("graph"),
                        change_count: 70_000,
                        last_modified: 0,
                        heads: vec![],
                    },
                ],
                total: 5,
                has_more: true,
            },
        ),
        ("NotFound", SyncResponse::NotFound { app_id: s(APP), doc_id: s(DOC) }),
        ("Error", SyncResponse::Error { message: s("Failed to get heads: ünïcødé") }),
    ]
}

fn request_bin(r: &SyncRequest<Vec<u8>>) -> SyncRequest<ByteBuf> {
    let b = |v: &Option<Vec<u8>>| v.clone().map(ByteBuf::from);
    match r.clone() {
        SyncRequest::GetHeads { app_id, doc_id } => SyncRequest::GetHeads { app_id, doc_id },
        SyncRequest::SyncChanges { app_id, doc_id, have_heads, bloom_filter } => {
            SyncRequest::SyncChanges { app_id, doc_id, have_heads, bloom_filter: b(&bloom_filter) }
        }
        SyncRequest::GetChanges { app_id, doc_id, change_hashes } => {
            SyncRequest::GetChanges { app_id, doc_id, change_hashes }
        }
        SyncRequest::AnnounceChange { app_id, doc_id, change_hash, change_data } => {
            SyncRequest::AnnounceChange { app_id, doc_id, change_hash, change_data: b(&change_data) }
        }
        SyncRequest::ListDocuments { app_id, prefix, offset, limit } => {
            SyncRequest::ListDocuments { app_id, prefix, offset, limit }
        }
    }
}

fn response_bin(r: &SyncResponse<Vec<u8>>) -> SyncResponse<ByteBuf> {
    match r.clone() {
        SyncResponse::Heads { app_id, doc_id, heads, change_count } => {
            SyncResponse::Heads { app_id, doc_id, heads, change_count }
        }
        SyncResponse::Changes { app_id, doc_id, changes, has_more, new_heads } => SyncResponse::Changes {
            app_id,
            doc_id,
            changes: changes.into_iter().map(ByteBuf::from).collect(),
            has_more,
            new_heads,
        },
        SyncResponse::RequestedChanges { app_id, doc_id, changes, not_found } => SyncResponse::RequestedChanges {
            app_id,
            doc_id,
            changes: changes.into_iter().map(|(h, c)| (h, ByteBuf::from(c))).collect(),
            not_found,
        },
        SyncResponse::ChangeAck { app_id, doc_id, was_new } => SyncResponse::ChangeAck { app_id, doc_id, was_new },
        SyncResponse::DocumentList { app_id, documents, total, has_more } => {
            SyncResponse::DocumentList { app_id, documents, total, has_more }
        }
        SyncResponse::NotFound { app_id, doc_id } => SyncResponse::NotFound { app_id, doc_id },
        SyncResponse::Error { message } => SyncResponse::Error { message },
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether the Rust node's own types (`Vec<u8>`) read `body` back as `value`.
fn reads<T: DeserializeOwned + PartialEq>(body: &[u8], value: &T) -> bool {
    rmp_serde::from_slice::<T>(body).map(|v| &v == value).unwrap_or(false)
}

fn entry<T, U>(kind: &str, name: &str, value: &T, bin: &U) -> String
where
    T: Serialize + DeserializeOwned + PartialEq,
    U: Serialize,
{
    let rust = rmp_serde::to_vec(value).expect("to_vec");
    let bin = rmp_serde::to_vec(bin).expect("to_vec (bin)");
    let named = rmp_serde::to_vec_named(value).expect("to_vec_named");
    assert!(reads(&rust, value) && reads(&named, value), "{name}: no round trip");
    format!(
        "    {{\n      \"kind\": \"{kind}\",\n      \"name\": \"{name}\",\n      \"rust\": \"{}\",\n      \"bin\": \"{}\",\n      \"named\": \"{}\",\n      \"rust_reads_bin\": {}\n    }}",
        hex(&rust),
        hex(&bin),
        hex(&named),
        reads(&bin, value)
    )
}

fn main() {
    let mut entries = Vec::new();
    for (name, r) in requests() {
        entries.push(entry("request", name, &r, &request_bin(&r)));
    }
    for (name, r) in responses() {
        entries.push(entry("response", name, &r, &response_bin(&r)));
    }
    println!(
        "{{\n  \"generator\": \"scripts/sync-golden (rmp-serde {}, Debian's librust-rmp-serde-dev)\",\n  \"vectors\": [\n{}\n  ]\n}}",
        RMP_SERDE_VERSION,
        entries.join(",\n")
    );
}

/// The rmp-serde these frames were made with (Cargo.lock pins it).
const RMP_SERDE_VERSION: &str = "1.1.1";
