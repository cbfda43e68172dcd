//! A small builder for LLB, BuildKit's content-addressed build graph.
//!
//! A [`State`] is a filesystem: `None` is scratch, otherwise an [`Output`]
//! of some vertex. Constructors add vertices (sources, exec, file, merge);
//! [`State::marshal`]-style encoding happens once in [`definition`], which
//! walks the graph, encodes each op with its inputs' digests, and appends
//! the terminal op that names the result — the same shape BuildKit's Go
//! client produces, so the daemon's cache sees identical graphs on
//! identical builds (maps are sorted in the generated types).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use prost::Message;
use sha2::{Digest as _, Sha256};
use wasmpack_proto::pb;

/// A filesystem state: `None` is scratch (empty).
pub type State = Option<Output>;

/// One output of a vertex.
#[derive(Clone, Debug)]
pub struct Output {
    node: Rc<Node>,
    index: i64,
}

#[derive(Debug)]
enum Node {
    // Boxed: vertices are far larger than the imported variant.
    Op(Box<Vertex>),
    /// A definition handed to us whole (the frontend inputs): its ops are
    /// copied in verbatim and its result referenced by digest.
    Imported {
        def: pb::Definition,
        root: pb::Input,
    },
}

#[derive(Debug)]
struct Vertex {
    /// The op without its inputs; they are filled in when encoding.
    op: pb::Op,
    inputs: Vec<Output>,
    meta: Meta,
}

/// What a vertex shows and where it comes from.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// The progress line BuildKit prints for the vertex.
    pub name: Option<String>,
    /// Dockerfile lines (1-based, inclusive) the vertex was made from.
    pub lines: Option<(usize, usize)>,
}

impl Meta {
    pub fn named(name: impl Into<String>) -> Self {
        Meta {
            name: Some(name.into()),
            lines: None,
        }
    }

    pub fn at(name: impl Into<String>, first: usize, last: usize) -> Self {
        Meta {
            name: Some(name.into()),
            lines: Some((first, last)),
        }
    }
}

fn add_vertex(op: pb::Op, inputs: Vec<Output>, meta: Meta) -> Output {
    Output {
        node: Rc::new(Node::Op(Box::new(Vertex { op, inputs, meta }))),
        index: 0,
    }
}

pub fn platform(os: &str, architecture: &str, variant: Option<&str>) -> pb::Platform {
    pb::Platform {
        os: os.to_string(),
        architecture: architecture.to_string(),
        variant: variant.unwrap_or_default().to_string(),
        ..Default::default()
    }
}

/// A source vertex: `docker-image://…`, `local://…`, ...
pub fn source(
    identifier: String,
    attrs: BTreeMap<String, String>,
    platform: Option<pb::Platform>,
    meta: Meta,
) -> Output {
    let op = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp { identifier, attrs })),
        platform,
        ..Default::default()
    };
    add_vertex(op, Vec::new(), meta)
}

/// An image source; `resolve_mode` is the build's `image-resolve-mode`
/// (default, pull or local), recorded only when not the default.
pub fn image(
    identifier: String,
    resolve_mode: &str,
    platform: Option<pb::Platform>,
    meta: Meta,
) -> Output {
    let mut attrs = BTreeMap::new();
    if resolve_mode != "default" {
        attrs.insert("image.resolvemode".to_string(), resolve_mode.to_string());
    }
    source(identifier, attrs, platform, meta)
}

/// The result of a definition received from the daemon (frontend inputs).
pub fn import(def: pb::Definition) -> Option<Output> {
    let terminal = pb::Op::decode(def.def.last()?.as_slice()).ok()?;
    let root = terminal.inputs.first()?.clone();
    let index = root.index;
    Some(Output {
        node: Rc::new(Node::Imported { def, root }),
        index,
    })
}

/// Collects a vertex's inputs: each distinct state once, scratch as -1.
#[derive(Default)]
struct Inputs {
    outputs: Vec<Output>,
}

impl Inputs {
    fn index_of(&mut self, state: &State) -> i64 {
        let Some(output) = state else { return -1 };
        let same = |o: &Output| Rc::ptr_eq(&o.node, &output.node) && o.index == output.index;
        match self.outputs.iter().position(same) {
            Some(i) => i as i64,
            None => {
                self.outputs.push(output.clone());
                self.outputs.len() as i64 - 1
            }
        }
    }
}

/// An extra mount of a RUN step.
#[derive(Clone, Debug)]
pub struct Mount {
    pub dest: String,
    /// What is mounted; `None` (scratch) for an empty cache, tmpfs, secret
    /// or SSH socket.
    pub state: State,
    /// Path inside `state` to mount (`""` for its root).
    pub selector: String,
    pub readonly: bool,
    /// Keep what the step writes here as an output of the step (wasmpack's
    /// own steps; Dockerfile mounts never are).
    pub output: bool,
    pub kind: MountKind,
}

#[derive(Clone, Debug)]
pub enum MountKind {
    Bind,
    /// A persistent cache directory, shared between builds by id.
    Cache {
        id: String,
        sharing: pb::CacheSharingOpt,
    },
    Tmpfs {
        size: i64,
    },
    Secret(pb::SecretOpt),
    Ssh(pb::SshOpt),
}

/// A process to run on top of a root filesystem.
#[derive(Clone, Debug, Default)]
pub struct Exec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub network: pb::NetMode,
    pub security: pb::SecurityMode,
    pub mounts: Vec<Mount>,
}

/// Runs `exec` on `root`; returns the root's new state and the outputs of
/// the mounts marked `output`, in mount order.
pub fn exec(
    root: &State,
    exec: Exec,
    platform: Option<pb::Platform>,
    meta: Meta,
) -> (State, Vec<State>) {
    let mut inputs = Inputs::default();
    let mut mounts = vec![pb::Mount {
        input: inputs.index_of(root),
        dest: "/".to_string(),
        output: 0,
        ..Default::default()
    }];
    // Filesystem mounts by destination, so a folder is mounted before what
    // is mounted inside it; then secrets, then SSH sockets, each in the order
    // given, as BuildKit orders them (the sort is stable).
    let mut extra = exec.mounts;
    extra.sort_by_key(|m| match m.kind {
        MountKind::Secret(_) => (1, String::new()),
        MountKind::Ssh(_) => (2, String::new()),
        _ => (0, m.dest.clone()),
    });
    let mut next_output = 1;
    for m in &extra {
        let output = if m.output {
            next_output += 1;
            next_output - 1
        } else {
            -1
        };
        let mut mount = pb::Mount {
            input: inputs.index_of(&m.state),
            selector: m.selector.clone(),
            dest: m.dest.clone(),
            output,
            readonly: m.readonly,
            ..Default::default()
        };
        match &m.kind {
            MountKind::Bind => {}
            MountKind::Cache { id, sharing } => {
                mount.mount_type = pb::MountType::Cache as i32;
                mount.cache_opt = Some(pb::CacheOpt {
                    id: id.clone(),
                    sharing: *sharing as i32,
                });
            }
            MountKind::Tmpfs { size } => {
                mount.mount_type = pb::MountType::Tmpfs as i32;
                mount.tmpfs_opt = Some(pb::TmpfsOpt { size: *size });
            }
            MountKind::Secret(secret) => {
                mount.mount_type = pb::MountType::Secret as i32;
                mount.secret_opt = Some(secret.clone());
            }
            MountKind::Ssh(ssh) => {
                mount.mount_type = pb::MountType::Ssh as i32;
                mount.ssh_opt = Some(ssh.clone());
            }
        }
        mounts.push(mount);
    }
    let op = pb::Op {
        op: Some(pb::op::Op::Exec(pb::ExecOp {
            meta: Some(pb::Meta {
                args: exec.args,
                env: exec.env,
                cwd: exec.cwd,
                user: exec.user,
                // Mount points the step had to create in the root are
                // removed again, so mounts leave no trace in the image.
                remove_mount_stubs_recursive: true,
                ..Default::default()
            }),
            mounts,
            network: exec.network as i32,
            security: exec.security as i32,
            ..Default::default()
        })),
        platform,
        ..Default::default()
    };
    let vertex = add_vertex(op, inputs.outputs, meta);
    let out = |index| {
        Some(Output {
            node: vertex.node.clone(),
            index,
        })
    };
    (out(0), (1..next_output).map(out).collect())
}

/// One step of a file operation.
#[derive(Clone, Debug)]
pub enum FileAction {
    /// Copy `src` (inside `from`) to `dest`.
    Copy {
        from: State,
        copy: pb::FileActionCopy,
    },
    Mkdir(pb::FileActionMkDir),
    Mkfile(pb::FileActionMkFile),
}

/// A copy with BuildKit's defaults for "keep what the source has": mode
/// and timestamp -1.
pub fn copy_defaults(src: &str, dest: &str) -> pb::FileActionCopy {
    pb::FileActionCopy {
        src: src.to_string(),
        dest: dest.to_string(),
        mode: -1,
        timestamp: -1,
        ..Default::default()
    }
}

/// Applies `actions` in order on `base`.
pub fn file(
    base: &State,
    actions: Vec<FileAction>,
    platform: Option<pb::Platform>,
    meta: Meta,
) -> State {
    let mut inputs = Inputs::default();
    let base_input = inputs.index_of(base);
    // Secondary inputs first, so the action numbering below is final.
    let secondaries: Vec<i64> = actions
        .iter()
        .map(|a| match a {
            FileAction::Copy { from, .. } => inputs.index_of(from),
            _ => -1,
        })
        .collect();
    let input_count = inputs.outputs.len() as i64;
    let last = actions.len() as i64 - 1;
    let pb_actions = actions
        .into_iter()
        .zip(secondaries)
        .enumerate()
        .map(|(i, (action, secondary))| {
            let i = i as i64;
            // Each action works on the previous one's result; the numbers
            // past the op's inputs name earlier actions.
            let input = if i == 0 {
                base_input
            } else {
                input_count + i - 1
            };
            let action = match action {
                FileAction::Copy { mut copy, .. } => {
                    look_up_names_in(&mut copy.owner, input);
                    pb::file_action::Action::Copy(copy)
                }
                FileAction::Mkdir(mut mkdir) => {
                    look_up_names_in(&mut mkdir.owner, input);
                    pb::file_action::Action::Mkdir(mkdir)
                }
                FileAction::Mkfile(mut mkfile) => {
                    look_up_names_in(&mut mkfile.owner, input);
                    pb::file_action::Action::Mkfile(mkfile)
                }
            };
            pb::FileAction {
                input,
                secondary_input: secondary,
                output: if i == last { 0 } else { -1 },
                action: Some(action),
            }
        })
        .collect();
    let op = pb::Op {
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: pb_actions,
        })),
        platform,
        ..Default::default()
    };
    Some(add_vertex(op, inputs.outputs, meta))
}

/// User and group names are looked up in /etc/passwd and /etc/group of the
/// filesystem the action writes to, which is its `input`.
fn look_up_names_in(owner: &mut Option<pb::ChownOpt>, input: i64) {
    let Some(owner) = owner else { return };
    for user in [&mut owner.user, &mut owner.group].into_iter().flatten() {
        if let Some(pb::user_opt::User::ByName(named)) = &mut user.user {
            named.input = input;
        }
    }
}

/// Layers `states` in order without copying (what `COPY --link` uses).
pub fn merge(states: &[State], meta: Meta) -> State {
    let mut inputs = Inputs::default();
    let merge_inputs = states
        .iter()
        .filter(|s| s.is_some())
        .map(|s| pb::MergeInput {
            input: inputs.index_of(s),
        })
        .collect::<Vec<_>>();
    if merge_inputs.is_empty() {
        return None;
    }
    let op = pb::Op {
        op: Some(pb::op::Op::Merge(pb::MergeOp {
            inputs: merge_inputs,
        })),
        ..Default::default()
    };
    Some(add_vertex(op, inputs.outputs, meta))
}

/// `sha256:<hex>` of encoded op bytes: how BuildKit names vertices.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The source file vertices point into, for BuildKit's error locations.
#[derive(Clone, Copy)]
pub struct SourceFile<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// Encodes the graph behind `state` as a definition (an empty one for
/// scratch).
pub fn definition(state: &State, source: Option<SourceFile<'_>>) -> pb::Definition {
    let mut encoder = Encoder::default();
    let Some(root) = state else {
        return pb::Definition::default();
    };
    let digest = encoder.visit(&root.node);
    let terminal = pb::Op {
        inputs: vec![pb::Input {
            digest,
            index: root.index,
        }],
        ..Default::default()
    };
    encoder.push(terminal.encode_to_vec(), pb::OpMetadata::default());
    let source = source
        .filter(|_| !encoder.locations.is_empty())
        .map(|file| pb::Source {
            locations: encoder.locations,
            infos: vec![pb::SourceInfo {
                filename: file.name.to_string(),
                data: file.data.to_vec(),
                language: "Dockerfile".to_string(),
                definition: None,
            }],
        });
    pb::Definition {
        def: encoder.def,
        metadata: encoder.metadata,
        source,
    }
}

/// The digest of the op a definition's result comes from (what BuildKit
/// names vertices by), read from its terminal op.
pub fn root_digest(definition: &pb::Definition) -> Option<String> {
    let terminal = pb::Op::decode(definition.def.last()?.as_slice()).ok()?;
    terminal.inputs.first().map(|input| input.digest.clone())
}

#[derive(Default)]
struct Encoder {
    /// Digest of each node already encoded, by address.
    done: HashMap<*const Node, String>,
    present: HashSet<String>,
    def: Vec<Vec<u8>>,
    metadata: BTreeMap<String, pb::OpMetadata>,
    locations: BTreeMap<String, pb::Locations>,
}

impl Encoder {
    fn push(&mut self, bytes: Vec<u8>, metadata: pb::OpMetadata) -> String {
        let digest = digest_of(&bytes);
        if self.present.insert(digest.clone()) {
            self.def.push(bytes);
            if metadata != pb::OpMetadata::default() {
                self.metadata.insert(digest.clone(), metadata);
            }
        }
        digest
    }

    /// Encodes `node` after its inputs (BuildKit wants inputs first) and
    /// returns its digest.
    fn visit(&mut self, node: &Rc<Node>) -> String {
        if let Some(digest) = self.done.get(&Rc::as_ptr(node)) {
            return digest.clone();
        }
        let digest = match node.as_ref() {
            Node::Imported { def, root } => {
                // Everything but its terminal op, which only named the root.
                let body = &def.def[..def.def.len().saturating_sub(1)];
                for bytes in body {
                    let digest = digest_of(bytes);
                    let metadata = def.metadata.get(&digest).cloned().unwrap_or_default();
                    self.push(bytes.clone(), metadata);
                }
                root.digest.clone()
            }
            Node::Op(vertex) => {
                let mut op = vertex.op.clone();
                op.inputs = vertex
                    .inputs
                    .iter()
                    .map(|input| pb::Input {
                        digest: self.visit(&input.node),
                        index: input.index,
                    })
                    .collect();
                let mut metadata = pb::OpMetadata::default();
                if let Some(name) = &vertex.meta.name {
                    metadata
                        .description
                        .insert("llb.customname".to_string(), name.clone());
                }
                let digest = self.push(op.encode_to_vec(), metadata);
                if let Some((first, last)) = vertex.meta.lines {
                    let range = pb::Range {
                        start: Some(pb::Position {
                            line: first as i32,
                            character: 0,
                        }),
                        end: Some(pb::Position {
                            line: last as i32,
                            character: 0,
                        }),
                    };
                    self.locations
                        .entry(digest.clone())
                        .or_default()
                        .locations
                        .push(pb::Location {
                            source_index: 0,
                            ranges: vec![range],
                        });
                }
                digest
            }
        };
        self.done.insert(Rc::as_ptr(node), digest.clone());
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str) -> State {
        Some(source(
            format!("docker-image://{name}"),
            BTreeMap::new(),
            None,
            Meta::default(),
        ))
    }

    fn decode(def: &pb::Definition) -> Vec<pb::Op> {
        def.def
            .iter()
            .map(|b| pb::Op::decode(b.as_slice()).unwrap())
            .collect()
    }

    #[test]
    fn inputs_come_before_their_users_and_the_terminal_op_names_the_result() {
        let base = image("docker.io/library/alpine:3");
        let (after, _) = exec(
            &base,
            Exec {
                args: vec!["true".into()],
                ..Default::default()
            },
            None,
            Meta::named("RUN true"),
        );
        let def = definition(&after, None);
        let ops = decode(&def);
        assert_eq!(ops.len(), 3);
        assert!(matches!(ops[0].op, Some(pb::op::Op::Source(_))));
        assert_eq!(ops[1].inputs[0].digest, digest_of(&def.def[0]));
        assert_eq!(ops[2].op, None, "terminal op");
        assert_eq!(ops[2].inputs[0].digest, digest_of(&def.def[1]));
        let name = &def.metadata[&digest_of(&def.def[1])].description["llb.customname"];
        assert_eq!(name, "RUN true");
    }

    #[test]
    fn the_same_graph_encodes_to_the_same_bytes_and_shared_vertices_once() {
        let build = || {
            let base = image("docker.io/library/alpine:3");
            let mut attrs = BTreeMap::new();
            attrs.insert("b".to_string(), "2".to_string());
            attrs.insert("a".to_string(), "1".to_string());
            let ctx = Some(source(
                "local://context".into(),
                attrs,
                None,
                Meta::default(),
            ));
            let copy = |from: &State| FileAction::Copy {
                from: from.clone(),
                copy: copy_defaults("/x", "/y"),
            };
            // `ctx` is used twice: one input, one vertex.
            let st = file(&base, vec![copy(&ctx), copy(&ctx)], None, Meta::default());
            definition(&st, None)
        };
        let (a, b) = (build(), build());
        assert_eq!(a, b);
        let ops = decode(&a);
        assert_eq!(ops.len(), 4, "alpine, context, file op, terminal");
        let Some(pb::op::Op::File(file_op)) = &ops[2].op else {
            panic!("file op expected")
        };
        assert_eq!(ops[2].inputs.len(), 2);
        // Action 0 on the base (input 0), action 1 on action 0's result
        // (input count + 0), both copying from input 1; only the last is
        // the op's output.
        let numbering: Vec<_> = file_op
            .actions
            .iter()
            .map(|a| (a.input, a.secondary_input, a.output))
            .collect();
        assert_eq!(numbering, vec![(0, 1, -1), (2, 1, 0)]);
    }

    #[test]
    fn scratch_is_minus_one_and_mount_outputs_are_numbered() {
        let mount = Mount {
            dest: "/out".into(),
            state: None,
            selector: String::new(),
            readonly: false,
            output: true,
            kind: MountKind::Bind,
        };
        let (root, outs) = exec(
            &image("busybox"),
            Exec {
                mounts: vec![mount],
                ..Default::default()
            },
            None,
            Meta::default(),
        );
        assert_eq!(outs.len(), 1);
        let def = definition(&outs[0], None);
        let ops = decode(&def);
        let Some(pb::op::Op::Exec(exec_op)) = &ops[1].op else {
            panic!("exec op expected")
        };
        assert_eq!(exec_op.mounts[1].input, -1);
        assert_eq!(exec_op.mounts[1].output, 1);
        assert_eq!(
            ops[2].inputs[0].index, 1,
            "the result is the mount's output"
        );
        assert_eq!(root.unwrap().index, 0);
    }

    #[test]
    fn imported_definitions_are_embedded_and_referenced() {
        let inner = definition(&image("docker.io/library/alpine:3"), None);
        let imported = import(inner.clone());
        let st = file(
            &imported,
            vec![FileAction::Mkdir(pb::FileActionMkDir {
                path: "/a".into(),
                mode: 0o755,
                make_parents: true,
                ..Default::default()
            })],
            None,
            Meta::default(),
        );
        let def = definition(&st, None);
        assert_eq!(
            def.def[0], inner.def[0],
            "the imported op is copied verbatim"
        );
        let ops = decode(&def);
        assert_eq!(ops[1].inputs[0].digest, digest_of(&inner.def[0]));
        assert_eq!(definition(&None, None), pb::Definition::default());
    }

    #[test]
    fn locations_point_at_dockerfile_lines() {
        let st = file(
            &None,
            vec![FileAction::Mkdir(pb::FileActionMkDir {
                path: "/a".into(),
                ..Default::default()
            })],
            None,
            Meta::at("WORKDIR /a", 3, 4),
        );
        let def = definition(
            &st,
            Some(SourceFile {
                name: "Dockerfile",
                data: b"FROM scratch\n",
            }),
        );
        let source = def.source.expect("source info");
        assert_eq!(source.infos[0].filename, "Dockerfile");
        let loc = &source.locations[&digest_of(&def.def[0])].locations[0];
        assert_eq!(loc.ranges[0].start.unwrap().line, 3);
        assert_eq!(loc.ranges[0].end.unwrap().line, 4);
    }
}
