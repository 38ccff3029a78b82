package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// Signing key rollover (`smp rekey`) and participant migrations (`smp sml migrate-out|migrate-in`). Each works on
// a running server through its admin listener, or on the store when no server runs.

func newSMPRekeyCmd() *cobra.Command {
	t := &smpTarget{}
	var files conf.TLSFiles
	var at string
	var force bool
	cmd := &cobra.Command{
		Use:   "rekey --config FILE (--cert NEW.pem --key NEW-key.pem | --pkcs12 NEW.p12 [--password-file F]) [--at YYYY-MM-DD | --force]",
		Short: "Switch to a new signing key (and SML client certificate): at 00:00 UTC of --at after telling the SML, or at once",
		Long: `rekey gives the SMP a new signing key. The SMP keeps a copy of it in its data directory (beside store.path,
mode 0600); documents are re-signed in the background, and until its turn each is served signed by the older key,
so every answer verifies with one certificate or the other.

With --at DATE the SML is told first (PrepareChangeCertificate); at 00:00 UTC of DATE the running SMP switches its
signing key and its SML client certificate together, when the SML starts to accept only the new certificate. A
server that is stopped at that moment switches when it starts. The new certificate may come from another CA
(PEPPOL's G2 to G3 move), as long as the SML trusts it.

Without --at the switch happens at once. That is refused while the SMP is registered in an SML, which knows it by
its current certificate and would refuse its calls from then on, unless --force is given.

After a switch, point signing: (and sml.client_tls, when set) in the configuration at the files it names; until
then a restart keeps the new key (the store records it) and logs a warning.

Without --cert/--key or --pkcs12, rekey re-signs on a stopped store whatever is not signed by the current key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !files.Set() {
				if at != "" || force {
					return usageErrorf("--at and --force need the new key: --cert and --key, or --pkcs12")
				}
				return withApp(openSMP, &t.cfg, resignStale)(cmd, args)
			}
			if at != "" && force {
				return usageErrorf("--force is for a switch at once; a switch --at DATE needs none")
			}
			if at != "" {
				if _, err := time.Parse(time.DateOnly, at); err != nil {
					return usageErrorf("--at %q is not a date YYYY-MM-DD (the switch happens at 00:00 UTC of that day)", at)
				}
			}
			key, chain, err := smpapp.LoadSigningKey(files)
			if err != nil {
				return fileError(err)
			}
			keyPEM, err := pki.EncodeKeyPEM(key)
			if err != nil {
				return fileError(err)
			}
			req := httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(chain...)), KeyPEM: string(keyPEM), At: at, Force: force}
			return withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
				r, ok := api.(smpadmin.RolloverAPI)
				if !ok {
					return fmt.Errorf("smp rekey: this admin API has no key rollover")
				}
				start := time.Now()
				res, err := r.Rekey(cmd.Context(), req)
				if err != nil {
					return err
				}
				out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
				for _, w := range res.Warnings {
					fmt.Fprintf(errw, "warning: %s\n", w)
				}
				fmt.Fprintf(out, "new key: %s (issuer %s), kept in %s and %s\n", res.Subject, res.Issuer, res.Files[0], res.Files[1])
				if !res.At.IsZero() {
					if res.SMLAnnounced {
						fmt.Fprintf(out, "the SML was told (PrepareChangeCertificate)\n")
					}
					fmt.Fprintf(out, "the SMP switches its signing key and SML client certificate at %s, then re-signs every document\n", res.At.Format(time.RFC3339))
					return nil
				}
				fmt.Fprintf(out, "switched to key generation %d in %s (a running server re-signs the documents in the background; on a stopped store they are re-signed already)\n",
					res.Generation, time.Since(start).Round(time.Millisecond))
				return nil
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	t.flags(f)
	f.StringVar(&files.Cert, "cert", "", "new signing certificate (PEM, with its chain)")
	f.StringVar(&files.Key, "key", "", "new signing key (PEM)")
	f.StringVar(&files.PKCS12, "pkcs12", "", "new signing key and certificate (PKCS#12) instead of --cert/--key")
	f.StringVar(&files.PasswordFile, "password-file", "", "file holding the PKCS#12 password")
	f.StringVar(&at, "at", "", "switch at 00:00 UTC of this day (YYYY-MM-DD), after telling the SML")
	f.BoolVar(&force, "force", false, "switch at once although the SMP is registered in an SML (which then refuses its calls)")
	return cmd
}

// resignStale re-signs, on a stopped store, what the current key has not signed.
func resignStale(cmd *cobra.Command, _ []string, a *smpapp.App) error {
	svc := a.Service()
	out := cmd.OutOrStdout()
	if !svc.Stale() {
		fmt.Fprintf(out, "every document is signed by the current key (generation %d); nothing to do\n", svc.Generation())
		return nil
	}
	start := time.Now()
	n, err := svc.Resign(cmd.Context(), func(done int) {
		if done%1000 == 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "  %d service groups\n", done)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "re-signed %d service groups with key generation %d (%s) in %s\n", n, svc.Generation(),
		svc.Certificate().Subject, time.Since(start).Round(time.Millisecond))
	return nil
}

// newSMPMigrateCmds returns `migrate-out` and `migrate-in`, the migration commands of `signpost smp sml`.
func newSMPMigrateCmds() []*cobra.Command {
	rollover := func(api smpadmin.API) (smpadmin.RolloverAPI, error) {
		r, ok := api.(smpadmin.RolloverAPI)
		if !ok {
			return nil, fmt.Errorf("this admin API has no migrations")
		}
		return r, nil
	}
	outT := &smpTarget{}
	var cancel bool
	out := &cobra.Command{
		Use:   "migrate-out --config FILE PARTICIPANT [--cancel]",
		Short: "Let another SMP take a participant over: prints a migration key registered in the SML for the new SMP",
		Long: `migrate-out generates a migration key that meets the SML's rules, registers it with PrepareToMigrate and
prints it. Hand it to the new SMP's operator out of band; the new SMP runs
  signpost smp sml migrate-in PARTICIPANT --key 'KEY'
and the SML then points the participant at the new SMP. Until then nothing changes here.

--cancel makes the key given out before worthless: the SML interface has no cancel, so a fresh random key that
is never shown replaces it.`,
		Args: cobra.ExactArgs(1),
		RunE: withAdmin(outT, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			r, err := rollover(api)
			if err != nil {
				return err
			}
			res, err := r.MigrateOut(cmd.Context(), args[0], cancel)
			if err != nil {
				return err
			}
			if res.Key != "" {
				fmt.Fprintln(cmd.OutOrStdout(), res.Key)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", res.Participant, res.Note)
			return nil
		}),
	}
	outT.flags(out.Flags())
	out.Flags().BoolVar(&cancel, "cancel", false, "invalidate the key given out before (a fresh key, never shown, replaces it)")
	inT := &smpTarget{}
	var key string
	in := &cobra.Command{
		Use:   "migrate-in --config FILE PARTICIPANT --key KEY",
		Short: "Take a participant over from another SMP with the migration key its operator gave you",
		Long: `migrate-in completes a migration in the SML (Migrate) with the key the SMP that gives the participant up
registered (its migrate-out), then records the participant as registered for this SMP.

The participant's service group must be on this SMP first: PUT it with ?create-in-sml=false, so that this SMP does
not try to register it while the other SMP still has it.`,
		Args: cobra.ExactArgs(1),
		RunE: withAdmin(inT, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			r, err := rollover(api)
			if err != nil {
				return err
			}
			res, err := r.MigrateIn(cmd.Context(), args[0], key)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", res.Participant, res.Note)
			return nil
		}),
	}
	inT.flags(in.Flags())
	in.Flags().StringVar(&key, "key", "", "the migration key from the SMP that gives the participant up")
	_ = in.MarkFlagRequired("key")
	return []*cobra.Command{out, in}
}
