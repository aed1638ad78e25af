//! A small OCI image built in the test and pushed with the registry client, for the tests
//! that talk to the loopback docker-registry (`MCPIN_TEST_OCI_REGISTRY`).

use std::path::Path;

use mcpin_registry_client::oci::{Descriptor, Manifest, OCI_MANIFEST, Reference};
use mcpin_registry_client::{Client, Settings};
use serde_json::json;

pub fn layer_tgz() -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let body = b"#!/bin/sh\necho mcp\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder
        .append_data(&mut header, "usr/local/bin/server", &body[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

pub fn oci_client(dir: &Path) -> Client {
    Client::new(Settings {
        store: dir.join("client-store"),
        http: Default::default(),
        npm: Default::default(),
        pypi_index: url::Url::parse("http://127.0.0.1:9/simple/").unwrap(),
        mcp_registry: url::Url::parse("http://127.0.0.1:9/").unwrap(),
        progress: false,
        owner: mcpin_registry_client::store::Owner::current(),
        wheel_target: mcpin_registry_client::pypi::WheelTarget::current(),
    })
    .unwrap()
}

pub fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A repository of its own, so a rerun against the same registry starts empty.
pub fn unique_repository(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mcpin/{prefix}-{nanos}")
}

pub struct PushedImage {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub config_desc: Descriptor,
    pub layer_desc: Descriptor,
    pub manifest_desc: Descriptor,
    pub manifest_bytes: Vec<u8>,
}

/// An OCI image built here (config, one layer, manifest) and pushed under `repo`'s tag.
pub fn push_image(client: &Client, repo: &Reference) -> PushedImage {
    push_image_with_cmd(client, repo, &["/usr/local/bin/server"])
}

/// [`push_image`] with another config `Cmd`: another image, another manifest digest.
pub fn push_image_with_cmd(client: &Client, repo: &Reference, cmd: &[&str]) -> PushedImage {
    let config = serde_json::to_vec(&json!({ "architecture": goarch(), "os": "linux", "config": { "Cmd": cmd }, "rootfs": { "type": "layers", "diff_ids": [] } })).unwrap();
    let layer = layer_tgz();
    let mut config_desc = client.oci_push_blob(repo, &config).unwrap();
    config_desc.media_type = "application/vnd.oci.image.config.v1+json".into();
    let mut layer_desc = client.oci_push_blob(repo, &layer).unwrap();
    layer_desc.media_type = "application/vnd.oci.image.layer.v1.tar+gzip".into();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config: Some(config_desc.clone()),
        layers: vec![layer_desc.clone()],
        ..Manifest::default()
    };
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let (manifest_desc, _) = client
        .oci_push_manifest(repo, OCI_MANIFEST, &manifest_bytes)
        .unwrap();
    PushedImage {
        config,
        layer,
        config_desc,
        layer_desc,
        manifest_desc,
        manifest_bytes,
    }
}
