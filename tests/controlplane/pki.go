package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// certValidity is generous: a DIR may be reused across days of development.
const certValidity = 5 * 365 * 24 * time.Hour

// authority is the harness CA: one per DIR, reused when the DIR is brought up
// again so that kubeconfigs and certificates handed out earlier stay valid.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type leafSpec struct {
	commonName string
	orgs       []string
	ips        []net.IP
	dnsNames   []string
	usages     []x509.ExtKeyUsage
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func writePEM(path string, blockType string, der []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func readPEM(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return block, nil
}

// loadOrCreateAuthority reads DIR's CA or creates a fresh one.
func loadOrCreateAuthority(certPath, keyPath string) (*authority, error) {
	if _, err := os.Stat(keyPath); err == nil {
		certBlock, err := readPEM(certPath)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(certBlock.Bytes)
		if err != nil {
			return nil, err
		}
		keyBlock, err := readPEM(keyPath)
		if err != nil {
			return nil, err
		}
		parsed, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
		if err != nil {
			return nil, err
		}
		signer, ok := parsed.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: not a signing key", keyPath)
		}
		return &authority{cert: cert, key: signer}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "vk-trio-controlplane-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key}, nil
}

// issue signs a fresh key pair for spec and writes it to certPath/keyPath.
func (a *authority) issue(spec leafSpec, certPath, keyPath string) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  spec.usages,
		IPAddresses:  spec.ips,
		DNSNames:     spec.dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writePEM(certPath, "CERTIFICATE", der, 0o644)
}

func writeServiceAccountKeys(privPath, pubPath string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := writeKey(privPath, key); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	return writePEM(pubPath, "PUBLIC KEY", pub, 0o644)
}

// writeKubeconfig writes a kubeconfig that references the certificate files
// by absolute path (so that clients which need files, such as Python's ssl
// module, can use them directly).
func writeKubeconfig(path, server, caPath, certPath, keyPath, user string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["vk-trio"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caPath}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: certPath, ClientKey: keyPath}
	cfg.Contexts["vk-trio"] = &clientcmdapi.Context{Cluster: "vk-trio", AuthInfo: user}
	cfg.CurrentContext = "vk-trio"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := clientcmd.WriteToFile(*cfg, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

var loopbackIPs = []net.IP{net.ParseIP("127.0.0.1")}

// ensurePKI creates every certificate and key of a DIR (once; later runs of
// the same DIR reuse them).
func ensurePKI(l layout) (*authority, error) {
	ca, err := loadOrCreateAuthority(l.CACert, l.CAKey)
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	serverAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaves := []struct {
		spec      leafSpec
		cert, key string
	}{
		{leafSpec{
			commonName: "kube-apiserver",
			ips:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(serviceIP)},
			dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local"},
			usages: serverAuth,
		}, l.APIServerCert, l.APIServerKey},
		{leafSpec{commonName: "vk-trio-admin", orgs: []string{"system:masters"}, usages: clientAuth},
			l.AdminCert, l.AdminKey},
		{leafSpec{commonName: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, usages: clientAuth},
			l.KubeletClientCert, l.KubeletClientKey},
		{leafSpec{commonName: frontProxyClientName, usages: clientAuth}, l.FrontProxyCert, l.FrontProxyKey},
		{leafSpec{commonName: "vk-trio-kubelet", ips: loopbackIPs, dnsNames: []string{"localhost"}, usages: serverAuth},
			l.KubeletCert, l.KubeletKey},
	}
	for _, leaf := range leaves {
		if _, err := os.Stat(leaf.key); err == nil {
			continue
		}
		if err := ca.issue(leaf.spec, leaf.cert, leaf.key); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", leaf.cert, err)
		}
	}
	if _, err := os.Stat(l.ServiceAccountKey); errors.Is(err, os.ErrNotExist) {
		if err := writeServiceAccountKeys(l.ServiceAccountKey, l.ServiceAccountPub); err != nil {
			return nil, fmt.Errorf("service-account keys: %w", err)
		}
	}
	return ca, nil
}
