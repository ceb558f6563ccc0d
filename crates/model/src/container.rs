//! Which container or systemd unit a cgroup path belongs to, from the path
//! alone: the layouts docker, containerd (Kubernetes CRI), CRI-O, podman and
//! systemd write, under both the cgroupfs and the systemd cgroup drivers,
//! cgroup v1 and v2. Pure, so every layout is a unit test; names (pod,
//! namespace, container name) come from the runtimes' state files, read by
//! the collector, and are merged in by `Container::with_name`.

use crate::ContainerName;
use serde::{Deserialize, Serialize};

/// The contract's `container` object; each key where known.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Container {
    /// The cgroup path it was recognised from.
    pub cgroup: String,
    /// "docker", "containerd", "cri-o", "podman" or "systemd".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The container id (64 hex digits for docker, containerd, CRI-O, podman).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The container's name, from the runtime's state files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Kubernetes pod's name, from the runtime's state files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The pod's uid, from the kubepods cgroup path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The pod's Kubernetes namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The systemd unit ("nginx.service", "docker-3f….scope").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A systemd unit name: "nginx.service", "session-3.scope", "docker-….scope".
fn is_unit(s: &str) -> bool {
    [".service", ".scope", ".socket", ".mount", ".swap"].iter().any(|suf| s.len() > suf.len() && s.ends_with(suf))
}

/// "cri-containerd-<id>.scope" -> ("containerd", id), for the runtime
/// prefixes systemd-driver scopes carry.
fn runtime_scope(comp: &str) -> Option<(&'static str, &str)> {
    let stem = comp.strip_suffix(".scope").unwrap_or(comp);
    for (prefix, runtime) in [
        ("cri-containerd-", "containerd"),
        ("crio-conmon-", "cri-o"),
        ("crio-", "cri-o"),
        ("docker-", "docker"),
        ("libpod-conmon-", "podman"),
        ("libpod-", "podman"),
    ] {
        if let Some(id) = stem.strip_prefix(prefix) {
            if is_hex_id(id) {
                return Some((runtime, id));
            }
        }
    }
    None
}

/// "pod1b2c…", "kubepods-burstable-pod1b2c_…_.slice" -> the pod uid with dashes.
fn pod_uid(comp: &str) -> Option<String> {
    let stem = comp.strip_suffix(".slice").unwrap_or(comp);
    let at = stem.rfind("pod")?;
    if at > 0 && !stem[..at].ends_with('-') {
        return None;
    }
    let uid = &stem[at + 3..];
    let ok = uid.len() >= 32 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

impl Container {
    /// Recognises the cgroup path's container or unit; None for the root
    /// and for paths that name neither (a bare "/my-test" is still returned,
    /// with only `cgroup` set, by `from_cgroup_or_bare`).
    pub fn from_cgroup(path: &str) -> Option<Container> {
        if path.is_empty() || path == "/" || path.contains("/..") {
            return None;
        }
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut c = Container { cgroup: path.to_string(), ..Default::default() };
        let in_kubepods = comps.first().is_some_and(|f| f.starts_with("kubepods"))
            || comps.iter().any(|x| x.starts_with("kubepods-") && x.contains("-pod"));
        // From the leaf up: the innermost container wins (a container's own
        // sub-cgroups, such as podman's ".../libpod-<id>.scope/container").
        for (i, comp) in comps.iter().enumerate().rev() {
            // containerd's systemd driver on v1: "<pod slice>:cri-containerd:<id>".
            let parts: Vec<&str> = comp.split(':').collect();
            if parts.len() == 3 && is_hex_id(parts[2]) {
                c.runtime = Some(match parts[1] {
                    "cri-containerd" => "containerd".into(),
                    "crio" => "cri-o".into(),
                    "docker" => "docker".into(),
                    other => other.to_string(),
                });
                c.id = Some(parts[2].into());
                c.pod_uid = pod_uid(parts[0]);
                return Some(c);
            }
            if let Some((runtime, id)) = runtime_scope(comp) {
                c.runtime = Some(runtime.into());
                c.id = Some(id.into());
                if comp.ends_with(".scope") {
                    c.unit = Some((*comp).into());
                }
                c.pod_uid = comps[..i].iter().rev().find_map(|p| pod_uid(p));
                return Some(c);
            }
            // cgroupfs drivers: "/docker/<id>", "/kubepods/burstable/pod<uid>/<id>".
            if is_hex_id(comp) && i > 0 {
                let parent = comps[i - 1];
                if parent == "docker" {
                    c.runtime = Some("docker".into());
                    c.id = Some((*comp).into());
                    return Some(c);
                }
                if in_kubepods {
                    if let Some(uid) = pod_uid(parent) {
                        // docker (dockershim) and containerd write the same
                        // path here: the runtime is left to the state files.
                        c.id = Some((*comp).into());
                        c.pod_uid = Some(uid);
                        return Some(c);
                    }
                }
            }
        }
        if in_kubepods {
            // A pod's own cgroup (its processes are the pause container's or
            // none): the pod, no container.
            c.pod_uid = comps.iter().rev().find_map(|p| pod_uid(p));
            if c.pod_uid.is_some() {
                return Some(c);
            }
        }
        if let Some(unit) = comps.iter().rev().find(|x| is_unit(x)) {
            c.runtime = Some("systemd".into());
            c.unit = Some((*unit).into());
            return Some(c);
        }
        None
    }

    /// `from_cgroup`, or just the path when it names no known container or
    /// unit (a cgroup someone made by hand is still worth naming).
    pub fn from_cgroup_or_bare(path: &str) -> Option<Container> {
        if path.is_empty() || path == "/" || path.contains("/..") {
            return None;
        }
        Some(Container::from_cgroup(path).unwrap_or_else(|| Container { cgroup: path.into(), ..Default::default() }))
    }

    /// Fills name, pod and namespace from what the runtime's state files said.
    pub fn with_name(mut self, names: &[ContainerName]) -> Container {
        if let Some(id) = &self.id {
            if let Some(n) = names.iter().find(|n| &n.id == id) {
                self.name = self.name.or_else(|| n.name.clone());
                self.pod = self.pod.or_else(|| n.pod.clone());
                self.namespace = self.namespace.or_else(|| n.namespace.clone());
                if self.runtime.is_none() {
                    self.runtime = n.runtime.clone();
                }
            }
        }
        self
    }

    /// A short label for a person or a metric: the name, else the unit,
    /// else "runtime:shortid", else the cgroup path.
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if self.runtime.as_deref() == Some("systemd") {
            if let Some(u) = &self.unit {
                return u.clone();
            }
        }
        if let Some(id) = &self.id {
            let short: String = id.chars().take(12).collect();
            return match &self.runtime {
                Some(r) => format!("{r}:{short}"),
                None => short,
            };
        }
        self.cgroup.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a1bc4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";
    const UID: &str = "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901";

    fn parse(p: &str) -> Container {
        Container::from_cgroup(p).unwrap_or_else(|| panic!("{p}: not recognised"))
    }

    fn check(p: &str, runtime: Option<&str>, id: Option<&str>, pod_uid: Option<&str>, unit: Option<&str>) {
        let c = parse(p);
        assert_eq!(c.cgroup, p);
        assert_eq!(c.runtime.as_deref(), runtime, "{p}: runtime");
        assert_eq!(c.id.as_deref(), id, "{p}: id");
        assert_eq!(c.pod_uid.as_deref(), pod_uid, "{p}: pod uid");
        assert_eq!(c.unit.as_deref(), unit, "{p}: unit");
    }

    #[test]
    fn docker() {
        // cgroupfs driver (v1 default: every controller's line).
        check(&format!("/docker/{ID}"), Some("docker"), Some(ID), None, None);
        // systemd driver (v2 default on Debian 11+, Ubuntu 21.10+).
        let scope = format!("docker-{ID}.scope");
        check(&format!("/system.slice/{scope}"), Some("docker"), Some(ID), None, Some(&scope));
        // rootless docker runs under the user's manager.
        check(
            &format!("/user.slice/user-1000.slice/user@1000.service/{scope}"),
            Some("docker"),
            Some(ID),
            None,
            Some(&scope),
        );
    }

    #[test]
    fn containerd_kubernetes() {
        // systemd driver, v2 (kubeadm's default since 1.22).
        let under = UID.replace('-', "_");
        let scope = format!("cri-containerd-{ID}.scope");
        let p = format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{under}.slice/{scope}");
        check(&p, Some("containerd"), Some(ID), Some(UID), Some(&scope));
        // Guaranteed QoS pods sit directly under kubepods.slice.
        let p = format!("/kubepods.slice/kubepods-pod{under}.slice/{scope}");
        check(&p, Some("containerd"), Some(ID), Some(UID), Some(&scope));
        // systemd driver on v1: containerd writes "slice:prefix:id" under its own service.
        let p = format!("/system.slice/containerd.service/kubepods-burstable-pod{under}.slice:cri-containerd:{ID}");
        check(&p, Some("containerd"), Some(ID), Some(UID), None);
        // cgroupfs driver (v1 and v2): the runtime is not in the path.
        let p = format!("/kubepods/burstable/pod{UID}/{ID}");
        check(&p, None, Some(ID), Some(UID), None);
        let p = format!("/kubepods/pod{UID}/{ID}");
        check(&p, None, Some(ID), Some(UID), None);
        // The pod's own cgroup: a pod, no container.
        let p = format!("/kubepods/besteffort/pod{UID}");
        check(&p, None, None, Some(UID), None);
    }

    #[test]
    fn cri_o() {
        let under = UID.replace('-', "_");
        let scope = format!("crio-{ID}.scope");
        let p = format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{under}.slice/{scope}");
        check(&p, Some("cri-o"), Some(ID), Some(UID), Some(&scope));
        // conmon, CRI-O's per-container monitor.
        let conmon = format!("crio-conmon-{ID}.scope");
        let p = format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{under}.slice/{conmon}");
        check(&p, Some("cri-o"), Some(ID), Some(UID), Some(&conmon));
        // cgroupfs driver.
        let p = format!("/kubepods/burstable/pod{UID}/crio-{ID}");
        check(&p, Some("cri-o"), Some(ID), Some(UID), None);
    }

    #[test]
    fn podman() {
        let scope = format!("libpod-{ID}.scope");
        check(&format!("/machine.slice/{scope}"), Some("podman"), Some(ID), None, Some(&scope));
        // v2: a container's processes may sit one level down.
        check(&format!("/machine.slice/{scope}/container"), Some("podman"), Some(ID), None, Some(&scope));
        // rootless.
        let p = format!("/user.slice/user-1000.slice/user@1000.service/user.slice/{scope}");
        check(&p, Some("podman"), Some(ID), None, Some(&scope));
        // in a pod.
        let p = format!("/machine.slice/machine-libpod_pod_0123456789abcdef.slice/{scope}");
        check(&p, Some("podman"), Some(ID), None, Some(&scope));
        // cgroupfs manager (v1).
        check(&format!("/libpod_parent/libpod-{ID}"), Some("podman"), Some(ID), None, None);
    }

    #[test]
    fn systemd_units() {
        check("/system.slice/nginx.service", Some("systemd"), None, None, Some("nginx.service"));
        check("/user.slice/user-1000.slice/session-3.scope", Some("systemd"), None, None, Some("session-3.scope"));
        // A service's delegated sub-cgroups name the service.
        check(
            "/system.slice/postgresql@15-main.service/sub",
            Some("systemd"),
            None,
            None,
            Some("postgresql@15-main.service"),
        );
        // User services: the innermost unit.
        check(
            "/user.slice/user-1000.slice/user@1000.service/app.slice/redis.service",
            Some("systemd"),
            None,
            None,
            Some("redis.service"),
        );
    }

    #[test]
    fn neither() {
        assert_eq!(Container::from_cgroup("/"), None);
        assert_eq!(Container::from_cgroup(""), None);
        assert_eq!(Container::from_cgroup("/unwedge-test-1"), None);
        assert_eq!(Container::from_cgroup("/system.slice"), None, "a slice is not a unit that runs anything");
        // Outside unwedge's cgroup namespace.
        assert_eq!(Container::from_cgroup("/../../system.slice/nginx.service"), None);
        // Not hex: not a container id.
        assert_eq!(Container::from_cgroup("/docker/not-an-id"), None);
        let bare = Container::from_cgroup_or_bare("/unwedge-test-1").unwrap();
        assert_eq!(bare, Container { cgroup: "/unwedge-test-1".into(), ..Default::default() });
        assert_eq!(bare.label(), "/unwedge-test-1");
    }

    #[test]
    fn names_and_labels() {
        let names = vec![ContainerName {
            id: ID.into(),
            runtime: Some("containerd".into()),
            name: Some("web".into()),
            pod: Some("web-5d8f".into()),
            namespace: Some("shop".into()),
        }];
        let c = parse(&format!("/kubepods/burstable/pod{UID}/{ID}")).with_name(&names);
        assert_eq!(c.runtime.as_deref(), Some("containerd"), "the state file that knew the id names the runtime");
        assert_eq!(
            (c.name.as_deref(), c.pod.as_deref(), c.namespace.as_deref()),
            (Some("web"), Some("web-5d8f"), Some("shop"))
        );
        assert_eq!(c.label(), "web");
        assert_eq!(parse(&format!("/docker/{ID}")).label(), "docker:3f2a1bc4d5e6");
        assert_eq!(parse("/system.slice/nginx.service").label(), "nginx.service");
    }
}
