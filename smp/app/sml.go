package app

import "github.com/signpost-project/signpost/conf"

// SMLNetwork returns the SML this SMP registers in, as sml.network resolved it: a preset's management URL and DNS
// zone (peppol-prod, peppol-test) or sml.url and sml.zone (custom). Its URL is empty when the SMP registers in no
// SML. Nothing is sent to the SML yet: registration comes with the outbox (issue 12).
func (a *App) SMLNetwork() conf.SMLNetwork { return a.sml }
