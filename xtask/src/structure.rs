//! Structure checks run by `cargo xtask ci` (and alone by `cargo xtask structure`):
//!
//! - no import cycle between the modules (files) of a crate: a module's `use`
//!   and path references (`crate::…`, `super::…`, `self::…`, a child module's
//!   name) are its edges, and every strongly connected component must be one
//!   module. A `pub use` of the module's own descendants is a facade, not an
//!   edge;
//! - the crate arrows of `ARCHITECTURE.md`'s code map are exactly the
//!   workspace's normal dependencies, as `cargo metadata` reports them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use syn::visit::Visit;

/// Runs both checks and fails listing every finding.
pub fn check() -> Result<()> {
    let mut findings = Vec::new();
    for krate in workspace_crates()? {
        let graph = module_graph(&krate.src)?;
        if std::env::var("STRUCTURE_EDGES").is_ok_and(|c| c == krate.name) {
            for (from, to) in &graph {
                let to: Vec<String> = to.iter().map(display).collect();
                println!("{} → {}", display(from), to.join(", "));
            }
        }
        for cycle in cycles(&graph) {
            findings.push(format!(
                "{}: module cycle {}",
                krate.name,
                cycle.join(" ↔ ")
            ));
        }
    }
    findings.extend(code_map_findings()?);
    if findings.is_empty() {
        println!(
            "structure: no module cycles; ARCHITECTURE.md's crate arrows match cargo metadata"
        );
        return Ok(());
    }
    for f in &findings {
        eprintln!("structure: {f}");
    }
    bail!("{} structure finding(s)", findings.len())
}

struct Crate {
    name: String,
    src: PathBuf,
    /// Names of the workspace crates this one depends on (normal dependencies).
    deps: BTreeSet<String>,
}

fn workspace_crates() -> Result<Vec<Crate>> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    let packages = meta["packages"]
        .as_array()
        .context("metadata has no packages")?;
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut crates = Vec::new();
    for p in packages {
        let name = p["name"]
            .as_str()
            .context("package without a name")?
            .to_owned();
        let manifest = PathBuf::from(p["manifest_path"].as_str().context("no manifest path")?);
        let dir = manifest.parent().context("manifest without folder")?;
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| names.contains(*d))
            .map(str::to_owned)
            .collect();
        crates.push(Crate {
            name,
            src: dir.join("src"),
            deps,
        });
    }
    crates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(crates)
}

/// A module's path inside its crate: `[]` for the crate root, `["steam", "format"]`…
type ModPath = Vec<String>;

/// Every file module of the crate under `src`, with the modules it refers to.
fn module_graph(src: &Path) -> Result<BTreeMap<ModPath, BTreeSet<ModPath>>> {
    let mut files = BTreeMap::new();
    collect_files(src, src, &mut files)?;
    let modules: BTreeSet<ModPath> = files.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let ast = syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        let mut refs = References {
            file_module: module.clone(),
            inline: Vec::new(),
            modules: &modules,
            found: BTreeSet::new(),
        };
        refs.visit_file(&ast);
        refs.found.remove(module);
        graph.insert(module.clone(), refs.found);
    }
    Ok(graph)
}

fn collect_files(root: &Path, dir: &Path, out: &mut BTreeMap<ModPath, PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).context("file outside src")?;
        let mut parts: ModPath = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
            .collect();
        if parts.first().is_some_and(|p| p == "bin") {
            continue; // each binary is its own crate
        }
        if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
            parts.clear();
        } else if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        out.insert(parts, path);
    }
    Ok(())
}

/// Collects the file modules one file refers to.
struct References<'a> {
    file_module: ModPath,
    /// Inline `mod x { … }` blocks the visitor is inside.
    inline: Vec<String>,
    modules: &'a BTreeSet<ModPath>,
    found: BTreeSet<ModPath>,
}

impl References<'_> {
    fn current(&self) -> ModPath {
        let mut m = self.file_module.clone();
        m.extend(self.inline.iter().cloned());
        m
    }

    /// Resolves a path's leading segments to the deepest file module it names.
    fn refer(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut absolute: ModPath = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.current(),
            "super" => {
                let mut m = self.current();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    m.pop();
                    rest = &rest[1..];
                }
                m.extend(rest.iter().cloned());
                return self.resolve(m);
            }
            _ => {
                // A child module of this file's module, named without a prefix.
                let mut child = self.current();
                child.push(first.clone());
                if !self.modules.contains(&child) {
                    return;
                }
                self.current()
            }
        };
        let skip = usize::from(matches!(first.as_str(), "crate" | "self"));
        absolute.extend(segments[skip..].iter().cloned());
        self.resolve(absolute);
    }

    fn resolve(&mut self, mut path: ModPath) {
        while !path.is_empty() && !self.modules.contains(&path) {
            path.pop();
        }
        self.found.insert(path);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.refer(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.refer(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.refer(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for References<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.inline.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.inline.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // A module that re-exports its own descendants is their facade, not a
        // user of them: only what it uses, or re-exports from elsewhere, counts.
        let facade = !matches!(u.vis, syn::Visibility::Inherited);
        let before = std::mem::take(&mut self.found);
        self.use_tree(&mut Vec::new(), &u.tree);
        let mut found = std::mem::replace(&mut self.found, before);
        if facade {
            let current = self.current();
            found.retain(|m| !(m.len() > current.len() && m.starts_with(&current)));
        }
        self.found.extend(found);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.segments.len() > 1 {
            let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.refer(&segments);
        }
        syn::visit::visit_path(self, p);
    }
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'g ModPath, usize>,
        low: BTreeMap<&'g ModPath, usize>,
        stack: Vec<&'g ModPath>,
        on_stack: BTreeSet<&'g ModPath>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g ModPath) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let Some((w, _)) = self.graph.get_key_value(w) else {
                    continue;
                };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.entry(v).or_insert(lw);
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.entry(v).or_insert(iw);
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(display(w));
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

fn display(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

/// `ARCHITECTURE.md`'s code map lists the crate arrows between the markers
/// `<!-- crate-arrows -->` … `<!-- /crate-arrows -->`: `a, b ← c, d` says that
/// `c` and `d` each depend on `a` and `b`, and chains go on to the right; they must be exactly cargo's normal dependencies between
/// workspace crates.
fn code_map_findings() -> Result<Vec<String>> {
    let text = std::fs::read_to_string("ARCHITECTURE.md").context("reading ARCHITECTURE.md")?;
    let Some(documented) = documented_arrows(&text) else {
        return Ok(vec![
            "ARCHITECTURE.md has no <!-- crate-arrows --> block".to_owned(),
        ]);
    };
    let mut actual = BTreeSet::new();
    for c in workspace_crates()? {
        for d in &c.deps {
            actual.insert((d.clone(), c.name.clone()));
        }
    }
    let mut findings = Vec::new();
    for (to, from) in actual.difference(&documented) {
        findings.push(format!("ARCHITECTURE.md lacks the arrow {to} ← {from}"));
    }
    for (to, from) in documented.difference(&actual) {
        findings.push(format!(
            "ARCHITECTURE.md shows {to} ← {from}, which Cargo.toml does not have"
        ));
    }
    Ok(findings)
}

/// The `(dependency, dependent)` pairs of the crate-arrows block of `text`.
fn documented_arrows(text: &str) -> Option<BTreeSet<(String, String)>> {
    let block = text
        .split("<!-- crate-arrows -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /crate-arrows -->").next())?;
    let mut documented = BTreeSet::new();
    for line in block.lines().filter(|l| l.contains('←')) {
        let groups: Vec<Vec<String>> = line
            .split('←')
            .map(|group| {
                group
                    .split(',')
                    .map(|s| s.trim().trim_matches('`').trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .collect();
        for pair in groups.windows(2) {
            for to in &pair[0] {
                for from in &pair[1] {
                    documented.insert((to.clone(), from.clone()));
                }
            }
        }
    }
    Some(documented)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn found(files: &[(&str, &str)]) -> Vec<Vec<String>> {
        let dir = crate_with(files);
        cycles(&module_graph(dir.path()).unwrap())
    }

    #[test]
    fn a_child_that_imports_its_user_is_a_cycle() {
        let c = found(&[
            ("lib.rs", "mod a;\nmod b;\npub fn top() { a::f(); }\n"),
            ("a.rs", "use crate::b::g;\npub fn f() { g() }\n"),
            ("b.rs", "pub fn g() { crate::a::f() }\n"),
        ]);
        assert_eq!(c, vec![vec!["a".to_owned(), "b".to_owned()]]);
        // Through the crate root: a child using an item the root defines,
        // while the root uses the child.
        let c = found(&[
            (
                "lib.rs",
                "mod a;\npub struct Config;\npub fn run() { a::f() }\n",
            ),
            ("a.rs", "use crate::Config;\npub fn f() {}\n"),
        ]);
        assert_eq!(c, vec![vec!["a".to_owned(), "crate".to_owned()]]);
    }

    #[test]
    fn facades_and_one_way_imports_are_not_cycles() {
        let c = found(&[
            (
                "lib.rs",
                "mod a;\nmod b;\npub use a::f;\npub use self::b::g;\n",
            ),
            ("a.rs", "use super::b::g;\npub fn f() { g() }\n"),
            ("b/mod.rs", "mod c;\npub use c::g;\n"),
            (
                "b/c.rs",
                "pub fn g() {}\n#[cfg(test)]\nmod tests { use super::*; }\n",
            ),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn arrows_read_as_every_left_crate_under_every_right_one() {
        let text =
            "x\n<!-- crate-arrows -->\n```\na, `b` ← c ← d, e\n```\n<!-- /crate-arrows -->\n";
        let arrows = documented_arrows(text).unwrap();
        let pair = |x: &str, y: &str| (x.to_owned(), y.to_owned());
        let want: BTreeSet<_> = [
            pair("a", "c"),
            pair("b", "c"),
            pair("c", "d"),
            pair("c", "e"),
        ]
        .into_iter()
        .collect();
        assert_eq!(arrows, want);
        assert!(documented_arrows("no block here").is_none());
    }
}
