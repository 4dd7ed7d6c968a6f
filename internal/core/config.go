package core

import (
	"fmt"
	"time"

	"switchboard/internal/pms"
)

// Config holds the core's settings; zero fields take the defaults.
type Config struct {
	// DefaultVP applies when a submitter sets no validity period; MaxVP caps
	// one that is set (seed 001 §2.4.4).
	DefaultVP time.Duration
	MaxVP     time.Duration
	// PIDAllowed and DCSAllowed are the accepted octets for SMs whose source
	// class is in FilterClasses (§2.4.3). Defaults: PID 0x00–0x1F, DCS 0x00
	// and 0x08; filtered classes: gsm and upstream, as the seed assigns the
	// duty to the GSM interface and the uplink.
	PIDAllowed    *[256]bool
	DCSAllowed    *[256]bool
	FilterClasses []pms.Class
	// PeerWindow is how many SMSC_DELIVER_TO_PEER requests may be
	// outstanding to one peer handler. The seed allows one; a window keeps
	// an SMPP link busy (docs/core.md).
	PeerWindow int
	// TransferWindow bounds outstanding SMSC_MT_TRANSFER requests.
	TransferWindow int
	// IMSICacheTTL is how long a resolved MSISDN-to-IMSI mapping is reused
	// (§2.6.1.3).
	IMSICacheTTL time.Duration
	// RetryMin and RetryMax bound the backoff after temporary failures.
	RetryMin, RetryMax time.Duration
	// CallTimeout bounds one request to a role handler.
	CallTimeout time.Duration
	// DedupWindow is how long after entry an identical submission is taken
	// for a resubmission of the same SM (§2.4.5).
	DedupWindow time.Duration
}

func (c *Config) setDefaults() {
	if c.DefaultVP == 0 {
		c.DefaultVP = 72 * time.Hour
	}
	if c.MaxVP == 0 {
		c.MaxVP = 7 * 24 * time.Hour
	}
	if c.PIDAllowed == nil {
		var a [256]bool
		for i := 0; i <= 0x1F; i++ {
			a[i] = true
		}
		c.PIDAllowed = &a
	}
	if c.DCSAllowed == nil {
		var a [256]bool
		a[0x00], a[0x08] = true, true
		c.DCSAllowed = &a
	}
	if c.FilterClasses == nil {
		c.FilterClasses = []pms.Class{pms.ClassGSM, pms.ClassUpstream}
	}
	if c.PeerWindow == 0 {
		c.PeerWindow = 100
	}
	if c.TransferWindow == 0 {
		c.TransferWindow = 64
	}
	if c.IMSICacheTTL == 0 {
		c.IMSICacheTTL = 5 * time.Minute
	}
	if c.RetryMin == 0 {
		c.RetryMin = 30 * time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 30 * time.Minute
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 60 * time.Second
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 10 * time.Minute
	}
}

func (c *Config) validate() error {
	switch {
	case c.DefaultVP <= 0 || c.MaxVP <= 0:
		return fmt.Errorf("validity periods must be positive")
	case c.DefaultVP > c.MaxVP:
		return fmt.Errorf("default validity %v exceeds the maximum %v", c.DefaultVP, c.MaxVP)
	case c.MaxVP > time.Duration(1<<32-1)*time.Second:
		return fmt.Errorf("maximum validity %v does not fit the store", c.MaxVP)
	case c.PeerWindow < 1 || c.TransferWindow < 1:
		return fmt.Errorf("windows must be at least 1")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("retry bounds are inconsistent")
	}
	return nil
}

func (c *Config) filtered(cl pms.Class) bool {
	for _, f := range c.FilterClasses {
		if f == cl {
			return true
		}
	}
	return false
}
