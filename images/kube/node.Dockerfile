# kdc/node:<release>: kdc's bare node (systemd, CNI plugins) plus Kubernetes. Built by
# images/kube/build.sh from a staged context; no registry, no apt-get.
# /etc/kubernetes (certificates, kubeconfigs, static pod manifests) lives on the node's /var
# volume, so that `kdc down` + `kdc up` restores the cluster without kubeadm init or join.
FROM kdc/node:bookworm
ARG RELEASE
COPY bin/ /usr/local/bin/
COPY images/ /kind/images/
COPY version /kind/version
COPY files/containerd.toml /etc/containerd/config.toml
COPY files/crictl.yaml /etc/crictl.yaml
COPY files/containerd.service files/kubelet.service files/kdc-node-fixups.service /etc/systemd/system/
COPY files/10-kubeadm.conf /etc/systemd/system/kubelet.service.d/10-kubeadm.conf
COPY files/node-fixups.sh /usr/local/lib/kdc/node-fixups.sh
COPY files/kdc-pod-run /usr/local/bin/kdc-pod-run
RUN chmod 0755 /usr/local/lib/kdc/node-fixups.sh /usr/local/bin/kdc-pod-run \
    && systemctl enable kdc-node-fixups.service containerd.service kubelet.service \
    && mkdir -p /var/lib/kubelet /var/lib/kdc/etc-kubernetes/manifests \
    && ln -s /var/lib/kdc/etc-kubernetes /etc/kubernetes \
    && kubeadm version -o short | grep -qx "$RELEASE" && kubelet --version | grep -q "$RELEASE"
LABEL io.kdc.image=node
