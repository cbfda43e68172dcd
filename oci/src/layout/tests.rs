//! Layouts and archives written, then read back.

use super::read::Tree;
use super::*;
use crate::image::{build_image, ImageSpec};
use crate::image::{Image, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::image_layer::LayerContent;
use crate::name::normalize_name;
use wasmpack_wasm::test_modules::hello_wasm;

fn image(epoch: u64) -> Image {
    build_image(&ImageSpec {
        wasm: hello_wasm(),
        wasm_path: "/hello.wasm".into(),
        epoch,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn names_normalize_and_only_digest_pinned_names_lack_a_tag() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let tag = |name: &str| normalize_name(name).unwrap().1;
    assert_eq!(
        normalize_name("hello").unwrap(),
        (
            "docker.io/library/hello:latest".to_string(),
            Some("latest".to_string())
        )
    );
    assert_eq!(tag("127.0.0.1:5000/demo/hello:1"), Some("1".to_string()));
    assert_eq!(tag(&format!("127.0.0.1:5000/demo/hello@{digest}")), None);
    assert_eq!(
        tag(&format!("demo/hello:1@{digest}")),
        Some("1".to_string())
    );

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("pinned.tar");
    write_archive(
        &archive,
        &image(0),
        Some(&format!("127.0.0.1:5000/demo/hello@{digest}")),
    )
    .unwrap();
    let layout = dir.path().join("pinned");
    save_image(
        &layout,
        &image(0),
        Some(&format!("127.0.0.1:5000/demo/hello@{digest}")),
    )
    .unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let annotations = &index["manifests"][0]["annotations"];
    assert!(
        annotations.get(ANNOTATION_REF_NAME).is_none(),
        "no made-up tag: {annotations}"
    );
    assert_eq!(
        annotations[ANNOTATION_CONTAINERD_NAME],
        format!("127.0.0.1:5000/demo/hello@{digest}")
    );
}

#[test]
fn a_written_layout_reads_back_by_full_name_tag_or_alone() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let img = image(0);
    layout.write_image(&img, Some("demo/hello:1")).unwrap();
    let source = ImageSource::from_path(dir.path());
    for name in [
        Some("demo/hello:1"),
        Some("docker.io/demo/hello:1"),
        Some("1"),
        None,
    ] {
        let back = read_image(&source, name).unwrap();
        assert_eq!(back.manifest, img.manifest, "{name:?}");
        assert_eq!(back.layers, img.layers);
        assert_eq!(back.config, img.config);
        assert_eq!(back.platform, img.platform);
    }
    let err = read_image(&source, Some("other:2")).unwrap_err();
    assert!(err.to_string().contains("docker.io/demo/hello:1"), "{err}");
}

#[test]
fn retagging_moves_the_name_and_two_names_need_choosing() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    layout.write_image(&image(0), Some("a:1")).unwrap();
    layout.write_image(&image(1), Some("a:1")).unwrap();
    assert_eq!(layout.index().unwrap().manifests().len(), 1);
    let source = ImageSource::from_path(dir.path());
    assert_eq!(
        read_image(&source, None).unwrap().manifest,
        image(1).manifest
    );
    layout.write_image(&image(0), Some("b:1")).unwrap();
    assert!(matches!(
        read_image(&source, None),
        Err(LayoutError::Ambiguous { count: 2, .. })
    ));
}

#[test]
fn a_corrupted_blob_is_refused_with_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let img = image(0);
    layout.write_image(&img, None).unwrap();
    let layer = layout.blob_path(&img.layers[0].digest).unwrap();
    let mut data = std::fs::read(&layer).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    std::fs::write(&layer, &data).unwrap();
    let err = read_image(&ImageSource::from_path(dir.path()), None).unwrap_err();
    assert!(matches!(err, LayoutError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&img.layers[0].digest));
    std::fs::remove_file(&layer).unwrap();
    let err = read_image(&ImageSource::from_path(dir.path()), None).unwrap_err();
    assert!(matches!(err, LayoutError::MissingBlob { .. }), "{err}");
}

#[test]
fn a_module_or_junk_given_as_an_archive_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hello.wasm");
    std::fs::write(&wasm, hello_wasm()).unwrap();
    let err = read_image(&ImageSource::from_path(&wasm), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("is a wasm module; `wasmpack build` packages one"),
        "{err}"
    );
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, vec![b'x'; 1024]).unwrap();
    let err = read_image(&ImageSource::from_path(&junk), None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: not an OCI archive", junk.display())),
        "{err}"
    );
}

#[test]
fn only_optional_layers_may_be_rejected_and_they_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let img = image(0);
    layout.write_image(&img, None).unwrap();
    let layer = layout.blob_path(&img.layers[0].digest).unwrap();
    std::fs::write(&layer, b"tampered").unwrap();
    let source = ImageSource::from_path(dir.path());
    let opened = LayoutImage::open(&source, None).unwrap();
    let rejected = opened.layer(0, LayerRead::Optional).unwrap();
    assert!(
        matches!(
            &rejected.content,
            LayerContent::Rejected(LayoutError::Corrupt { .. })
        ),
        "a rejected layer says why: {:?}",
        rejected.content
    );
    assert!(
        rejected.blob().is_none(),
        "a rejected layer carries no data"
    );
    assert_eq!(rejected.digest(), img.layers[0].digest);
    let err = opened.layer(0, LayerRead::Required).unwrap_err();
    assert!(matches!(err, LayoutError::Corrupt { .. }), "{err}");
    assert!(matches!(
        read_image(&source, None),
        Err(LayoutError::Corrupt { .. })
    ));

    // A skipped blob is not read, so not judged: even a missing one.
    std::fs::remove_file(&layer).unwrap();
    let skipped = opened.layer(0, LayerRead::Skip).unwrap();
    assert!(matches!(skipped.content, LayerContent::NotRead));
    assert!(skipped.blob().is_none());
    let missing = opened.layer(0, LayerRead::Optional).unwrap();
    assert!(matches!(
        missing.content,
        LayerContent::Rejected(LayoutError::MissingBlob { .. })
    ));
}

#[test]
fn layers_are_read_only_when_asked_for_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(0);
    OciLayout::create(dir.path())
        .unwrap()
        .write_image(&img, None)
        .unwrap();
    let opened = LayoutImage::open(&ImageSource::from_path(dir.path()), None).unwrap();
    assert_eq!(opened.config(), &img.config);
    assert_eq!(opened.manifest().layers().len(), 1);
    let layer = opened.layer(0, LayerRead::Required).unwrap();
    assert_eq!(layer.blob(), Some(&img.layers[0]));
    assert_eq!(
        opened.layer(0, LayerRead::Optional).unwrap().blob(),
        Some(&img.layers[0])
    );
}

#[test]
fn archives_are_reproducible_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    let img = image(0);
    write_archive(&a, &img, Some("demo/hello")).unwrap();
    write_archive(&b, &img, Some("demo/hello")).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let back = read_image(&ImageSource::from_path(&a), Some("demo/hello:latest")).unwrap();
    assert_eq!(back.manifest, img.manifest);
    let members: Vec<String> = tar::Archive::new(std::fs::File::open(&a).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        members.contains(&"manifest.json".to_string()),
        "{members:?}"
    );
    let docker: serde_json::Value = serde_json::from_slice(
        &Tree::read_archive(&a)
            .unwrap()
            .read(&a, "manifest.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(docker[0]["RepoTags"][0], "demo/hello:latest");
}

#[test]
fn save_image_creates_a_layout_whole_or_adds_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("new/layout");
    save_image(&dest, &image(0), Some("a:1")).unwrap();
    save_image(&dest, &image(1), Some("a:2")).unwrap();
    assert_eq!(
        OciLayout::open(&dest)
            .unwrap()
            .index()
            .unwrap()
            .manifests()
            .len(),
        2
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["layout"]);
}

#[test]
fn blob_paths_only_come_from_sha256_digests() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    assert!(layout.blob_path("sha256:../../../etc/passwd").is_err());
    assert!(!layout.has_blob("sha512:00"));
    assert!(matches!(
        OciLayout::open(&dir.path().join("nope")),
        Err(LayoutError::NotALayout(_))
    ));
}
