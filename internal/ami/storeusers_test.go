package ami_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
)

// tryLogin logs in on a new connection (with the MD5 challenge when md5 is
// set) and returns the Login response.
func tryLogin(t *testing.T, addr, user, secret string, md5Auth bool) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if !md5Auth {
		rc.send("Action: Login", "Username: "+user, "Secret: "+secret)
		return rc.until("Response:")
	}
	rc.send("Action: Challenge", "AuthType: MD5")
	ch := hdr(rc.until("Response:"), "Challenge")
	sum := md5.Sum([]byte(ch + secret))
	rc.send("Action: Login", "AuthType: MD5", "Username: "+user, "Key: "+hex.EncodeToString(sum[:]))
	return rc.until("Response:")
}

// TestStoreAMIUsers: AMI users of the provisioning store log in (plain and
// MD5 challenge, which needs the sealed secret opened), after the static
// users (a static user shadows a stored one of the same name); a change
// or deletion through the repository takes effect at the next login; a
// suspended tenant's users and a user whose ACL refuses the address cannot
// log in.
func TestStoreAMIUsers(t *testing.T) {
	n := startAMINodeWith(t, "", "", provisionTenants)
	ctx := context.Background()
	const ok, denied = "Response: Success\r\nMessage: Authentication accepted\r\n\r\n", "Response: Error\r\nMessage: Authentication failed\r\n\r\n"
	check := func(what, user, secret string, md5Auth bool, want string) {
		t.Helper()
		if got := tryLogin(t, n.AMIAddr, user, secret, md5Auth); got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	check("store user", "acme", acmePW, false, ok)
	check("store user, MD5", "acme", acmePW, true, ok)
	check("store user, wrong secret", "acme", "acme-wrong-pw", false, denied)
	check("static user", "admin", "secret", true, ok)

	if _, err := n.Repo.PutAMIUser(ctx, provision.AMIUser{Name: "ops", Secret: "ops-secret-1", Read: "call", Write: "call"}); err != nil {
		t.Fatal(err)
	}
	check("new user", "ops", "ops-secret-1", true, ok)
	if _, err := n.Repo.PutAMIUser(ctx, provision.AMIUser{Name: "ops", Secret: "ops-secret-2", Read: "call"}); err != nil {
		t.Fatal(err)
	}
	check("old secret", "ops", "ops-secret-1", false, denied)
	check("new secret", "ops", "ops-secret-2", false, ok)
	if err := n.Repo.DeleteAMIUser(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	check("deleted user", "ops", "ops-secret-2", false, denied)

	// The static admin shadows a stored "admin".
	if _, err := n.Repo.PutAMIUser(ctx, provision.AMIUser{Name: "admin", Secret: "stored-admin-pw", Read: "all", Write: "all"}); err != nil {
		t.Fatal(err)
	}
	check("shadowed stored user", "admin", "stored-admin-pw", false, denied)
	check("static user over stored", "admin", "secret", false, ok)

	if _, err := n.Repo.PutAMIUser(ctx, provision.AMIUser{Name: "remote", Secret: "remote-secret", Read: "all", Permit: []string{"10.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	check("ACL", "remote", "remote-secret", false, denied)

	check("beta active", "beta", "beta-ami-pw", false, ok)
	if _, err := n.Repo.UpdateTenant(ctx, "beta", func(t *provision.Tenant) error { t.Status = "suspended"; return nil }); err != nil {
		t.Fatal(err)
	}
	check("suspended tenant", "beta", "beta-ami-pw", false, denied)
}
