//! Golden vectors from the real rmp-serde: the shard protocol's messages and the three Rust
//! manifest shapes, declared here as the Rust node declares them (elohim-storage
//! `p2p/shard_protocol.rs`, `sharding.rs`; the DNA's `content_store_integrity`; the doorway's
//! `services/shard_resolver.rs`). Prints one JSON object: name -> hex of the MessagePack.
use serde::Serialize;
use std::collections::BTreeMap;

// As elohim-storage p2p/shard_protocol.rs: Vec<u8> as rmp-serde writes it (an integer array).
#[derive(Serialize)]
enum ShardRequest {
    Get { hash: String },
    Have { hash: String },
    Push { hash: String, data: Vec<u8> },
}
#[derive(Serialize)]
enum ShardResponse {
    Data(Vec<u8>),
    Have(bool),
    PushAck,
    NotFound,
    Error(String),
}
// The same messages with the bytes as `bin` (what we send; rmp-serde >= 1.2 reads it).
#[derive(Serialize)]
enum ShardRequestBin {
    Push {
        hash: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
}
#[derive(Serialize)]
enum ShardResponseBin {
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
}

// elohim-storage sharding.rs: 13 fields.
#[derive(Serialize)]
struct StorageManifest {
    blob_cid: String,
    blob_hash: String,
    total_size: u64,
    mime_type: String,
    encoding: String,
    data_shards: u8,
    total_shards: u8,
    shard_size: u64,
    shard_hashes: Vec<String>,
    reach: String,
    author_id: Option<String>,
    created_at: String,
    verified_at: Option<String>,
}
// The DNA entry: no blob_cid.
#[derive(Serialize)]
struct DnaManifest {
    blob_hash: String,
    total_size: u64,
    mime_type: String,
    encoding: String,
    data_shards: u8,
    total_shards: u8,
    shard_size: u64,
    shard_hashes: Vec<String>,
    reach: String,
    author_id: Option<String>,
    created_at: String,
    verified_at: Option<String>,
}
// The doorway's: no blob_cid, no verified_at, shard_size u32.
#[derive(Serialize)]
struct DoorwayManifest {
    blob_hash: String,
    total_size: u64,
    mime_type: String,
    encoding: String,
    data_shards: u8,
    total_shards: u8,
    shard_size: u32,
    shard_hashes: Vec<String>,
    reach: String,
    author_id: Option<String>,
    created_at: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

fn main() {
    let hash = format!("sha256-{}", "ab".repeat(32));
    let h = |i: u8| format!("sha256-{}", format!("{:02x}", i).repeat(32));
    let data: Vec<u8> = vec![0, 1, 127, 128, 255];
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |name: &str, positional: Vec<u8>, named: Vec<u8>| {
        out.insert(format!("{}.positional", name), hex(&positional));
        out.insert(format!("{}.named", name), hex(&named));
    };
    macro_rules! both {
        ($name:expr, $v:expr) => {
            put($name, rmp_serde::to_vec(&$v).unwrap(), rmp_serde::to_vec_named(&$v).unwrap())
        };
    }
    both!("Get", ShardRequest::Get { hash: hash.clone() });
    both!("HaveRequest", ShardRequest::Have { hash: hash.clone() });
    both!("Push.ints", ShardRequest::Push { hash: hash.clone(), data: data.clone() });
    both!("Push.bin", ShardRequestBin::Push { hash: hash.clone(), data: data.clone() });
    both!("Data.ints", ShardResponse::Data(data.clone()));
    both!("Data.bin", ShardResponseBin::Data(data.clone()));
    both!("HaveTrue", ShardResponse::Have(true));
    both!("HaveFalse", ShardResponse::Have(false));
    both!("PushAck", ShardResponse::PushAck);
    both!("NotFound", ShardResponse::NotFound);
    both!("Error", ShardResponse::Error("no such shard".into()));

    // One rs-4-7 blob of 100 MiB + 3 bytes, as sharding.rs describes it.
    let total: u64 = 100 * 1024 * 1024 + 3;
    let shard = (total + 3) / 4;
    let shards: Vec<String> = (1..=7).map(h).collect();
    let created = "2026-12-06T16:00:00.123456789+00:00".to_string();
    both!("manifest.storage", StorageManifest {
        blob_cid: "bafkreiflvov2xk5lvov2xk5lvov2xk5lvov2xk5lvov2xk5lvov2xk5lvm".into(),
        blob_hash: hash.clone(),
        total_size: total,
        mime_type: "video/mp4".into(),
        encoding: "rs-4-7".into(),
        data_shards: 4,
        total_shards: 7,
        shard_size: shard,
        shard_hashes: shards.clone(),
        reach: "commons".into(),
        author_id: None,
        created_at: created.clone(),
        verified_at: Some(created.clone()),
    });
    both!("manifest.dna", DnaManifest {
        blob_hash: hash.clone(),
        total_size: total,
        mime_type: "video/mp4".into(),
        encoding: "rs-4-7".into(),
        data_shards: 4,
        total_shards: 7,
        shard_size: shard,
        shard_hashes: shards.clone(),
        reach: "commons".into(),
        author_id: Some("uhCAkagent".into()),
        created_at: created.clone(),
        verified_at: None,
    });
    both!("manifest.doorway", DoorwayManifest {
        blob_hash: hash.clone(),
        total_size: total,
        mime_type: "video/mp4".into(),
        encoding: "rs-4-7".into(),
        data_shards: 4,
        total_shards: 7,
        shard_size: shard as u32,
        shard_hashes: shards.clone(),
        reach: "commons".into(),
        author_id: None,
        created_at: created.clone(),
    });
    let body: Vec<String> = out.iter().map(|(k, v)| format!("  \"{}\": \"{}\"", k, v)).collect();
    println!("{{\n{}\n}}", body.join(",\n"));
}
