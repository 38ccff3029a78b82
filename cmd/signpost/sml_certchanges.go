package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/sml/admin"
)

func newSMLCertificateChangesCmd() *cobra.Command {
	cmd, _ := smlListCmd("certificate-changes", "List the SMP certificate changes: scheduled (PrepareChangeCertificate) and done",
		"certificate_changes", "DOMAIN\tAT\tSTATE\tOLD CERTIFICATE\tNEW CERTIFICATE",
		func(cmd *cobra.Command, api admin.API) ([]admin.CertificateChange, error) {
			return api.CertificateChanges(cmd.Context())
		},
		func(c admin.CertificateChange) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", c.Domain, c.At.UTC().Format(time.RFC3339), changeState(&c), c.Old, c.New)
		})
	return cmd
}

// changeState says whether a certificate change is scheduled or done.
func changeState(c *admin.CertificateChange) string {
	if c.Pending {
		return "scheduled"
	}
	return "done"
}

func newSMLExpiringCmd() *cobra.Command {
	var days int
	cmd, _ := smlListCmd("expiring-certificates", "Report the SMPs whose owner certificate expires within N days (default 30), or whose expiry is not known yet",
		"smps", "SMP\tDOMAIN\tEXPIRES\tCERTIFICATE CHANGE\tOWNER",
		func(cmd *cobra.Command, api admin.API) ([]admin.ExpiringCertificate, error) {
			if days < 0 {
				return nil, usageErrorf("--days %d: give a number of days, 0 or more", days)
			}
			return api.ExpiringCertificates(cmd.Context(), time.Duration(days)*24*time.Hour)
		},
		func(e admin.ExpiringCertificate) string {
			exp, change := "unknown", "none"
			if e.NotAfter != nil {
				exp = e.NotAfter.UTC().Format(time.RFC3339)
			}
			if c := e.Change; c != nil {
				change = changeState(c) + " " + c.At.UTC().Format(time.RFC3339)
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", e.SMP, e.Domain, exp, change, e.Owner)
		})
	cmd.Use = "expiring-certificates [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--days N] [--json]"
	cmd.Long = `Report the SMPs whose owner certificate expires within N days, soonest first, with the owner's latest
certificate change (scheduled or done), so the operator can remind whoever runs an SMP that has not scheduled one.
The SML learns an owner certificate's expiry when that certificate creates or updates the SMP; an SMP it has not
seen since is listed as "unknown".`
	cmd.Flags().IntVar(&days, "days", 30, "report certificates that expire within this many days")
	return cmd
}
