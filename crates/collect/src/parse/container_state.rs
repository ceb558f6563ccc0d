//! Container names from the runtimes' own state files (JSON), so that a
//! finding says "web in pod shop/web-5d8f" without asking any daemon:
//! docker's config.v2.json, the OCI config.json that containerd (CRI) and
//! CRI-O write with the kubelet's annotations, and containers/storage's
//! containers.json (podman). Pure: bytes in, names out; anything else None.

use serde_json::Value;
use unwedge_model::ContainerName;

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|x| !x.is_empty()).map(String::from)
}

/// docker config.v2.json or an OCI config.json with Kubernetes annotations.
pub fn name(id: &str, runtime: &str, text: &[u8]) -> Option<ContainerName> {
    let v: Value = serde_json::from_slice(text).ok()?;
    let mut n = ContainerName { id: id.into(), runtime: Some(runtime.into()), ..Default::default() };
    if let Some(labels) = v.pointer("/Config/Labels") {
        // docker: "Name": "/web"; under dockershim, the kubelet's labels.
        n.name = s(labels.get("io.kubernetes.container.name"))
            .or_else(|| s(v.get("Name")).map(|x| x.trim_start_matches('/').to_string()));
        n.pod = s(labels.get("io.kubernetes.pod.name"));
        n.namespace = s(labels.get("io.kubernetes.pod.namespace"));
    } else if let Some(a) = v.get("annotations") {
        // containerd CRI, then CRI-O.
        n.name = s(a.get("io.kubernetes.cri.container-name")).or_else(|| s(a.get("io.kubernetes.container.name")));
        n.pod = s(a.get("io.kubernetes.cri.sandbox-name")).or_else(|| s(a.get("io.kubernetes.pod.name")));
        n.namespace =
            s(a.get("io.kubernetes.cri.sandbox-namespace")).or_else(|| s(a.get("io.kubernetes.pod.namespace")));
    } else {
        n.name = s(v.get("Name")).map(|x| x.trim_start_matches('/').to_string());
    }
    (n.name.is_some() || n.pod.is_some()).then_some(n)
}

/// containers/storage containers.json: [{"id": …, "names": ["web"]}, …].
pub fn storage_name(id: &str, text: &[u8]) -> Option<ContainerName> {
    let v: Value = serde_json::from_slice(text).ok()?;
    let c = v.as_array()?.iter().find(|c| c.get("id").and_then(Value::as_str) == Some(id))?;
    let name = s(c.get("names").and_then(|n| n.get(0)))?;
    Some(ContainerName { id: id.into(), runtime: Some("podman".into()), name: Some(name), ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config() {
        let text = br#"{"ID":"abc","Name":"/web","Config":{"Labels":{"maintainer":"x"}}}"#;
        let n = name("abc", "docker", text).unwrap();
        assert_eq!((n.name.as_deref(), n.pod.as_deref()), (Some("web"), None));
        let k8s = br#"{"Name":"/k8s_web_web-5d8f_shop_1_0","Config":{"Labels":{"io.kubernetes.container.name":"web","io.kubernetes.pod.name":"web-5d8f","io.kubernetes.pod.namespace":"shop"}}}"#;
        let n = name("abc", "docker", k8s).unwrap();
        assert_eq!(
            (n.name.as_deref(), n.pod.as_deref(), n.namespace.as_deref()),
            (Some("web"), Some("web-5d8f"), Some("shop"))
        );
    }

    #[test]
    fn oci_annotations() {
        let cri = br#"{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"web","io.kubernetes.cri.sandbox-name":"web-5d8f","io.kubernetes.cri.sandbox-namespace":"shop"}}"#;
        let n = name("abc", "containerd", cri).unwrap();
        assert_eq!(
            (n.name.as_deref(), n.pod.as_deref(), n.namespace.as_deref()),
            (Some("web"), Some("web-5d8f"), Some("shop"))
        );
        let crio = br#"{"annotations":{"io.kubernetes.container.name":"db","io.kubernetes.pod.name":"db-0","io.kubernetes.pod.namespace":"data"}}"#;
        let n = name("abc", "cri-o", crio).unwrap();
        assert_eq!(
            (n.name.as_deref(), n.pod.as_deref(), n.namespace.as_deref()),
            (Some("db"), Some("db-0"), Some("data"))
        );
        assert_eq!(name("abc", "containerd", br#"{"annotations":{}}"#), None);
        assert_eq!(name("abc", "containerd", b"not json"), None);
    }

    #[test]
    fn storage() {
        let text = br#"[{"id":"aaa","names":["other"]},{"id":"abc","names":["web","alias"]}]"#;
        assert_eq!(storage_name("abc", text).unwrap().name.as_deref(), Some("web"));
        assert_eq!(storage_name("zzz", text), None);
    }
}
