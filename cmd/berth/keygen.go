package main

import (
	"fmt"
	"os"

	"github.com/berthsh/berth/bundles"
	"github.com/spf13/cobra"
)

// KeygenOutput is what `berth keygen -o json|yaml` prints.
type KeygenOutput struct {
	PrivateKey string `json:"privateKey"`
	PublicKey  string `json:"publicKey"`
	KeyID      string `json:"keyID"`
}

func newKeygenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keygen [PREFIX]",
		Short: "Make an ed25519 key pair for signing bundles",
		Long: `Writes a new ed25519 signing key pair (PREFIX defaults to ./berth-signing): PREFIX.key (the private key, PKCS#8 PEM, mode 0600) and PREFIX.pub
(the public key, PEM). Sign bundles with the private key on the build machine; carry only the public key to the
air-gapped side, where 'berth bundle verify --key PREFIX.pub' accepts nothing else. An existing private key is
never overwritten.`,
		Example: `  berth keygen ~/.config/berth/bundle-signing
  berth bundle build -f spec.yaml --out lab.tar --sign-key ~/.config/berth/bundle-signing.key
  berth bundle verify lab.tar --key ~/.config/berth/bundle-signing.pub`,
		Args: rangeArgs(0, 1, "at most one PREFIX"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := "berth-signing"
			if len(args) == 1 {
				out = args[0]
			}
			pub, priv, err := bundles.GenerateKey()
			if err != nil {
				return err
			}
			if _, err := os.Stat(out + ".key"); err == nil {
				return fmt.Errorf("%s.key exists; berth never overwrites a signing key (choose another PREFIX)", out)
			}
			if err := bundles.WriteKeyPair(out+".key", out+".pub", priv); err != nil {
				return err
			}
			res := KeygenOutput{out + ".key", out + ".pub", bundles.KeyID(pub)}
			if a.machine() {
				return a.print(res)
			}
			fmt.Fprintf(a.out, "private key %s (0600, keep it on the build machine)\npublic key  %s (carry it with the bundles)\nkey ID      %s\n",
				res.PrivateKey, res.PublicKey, res.KeyID)
			return nil
		},
	}
	return cmd
}
