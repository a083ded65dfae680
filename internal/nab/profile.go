package nab

import "fmt"

// Profile is one of NAB's application profiles: the cost matrix that weights
// true positives (TP), false positives (FP), false negatives (FN) and true
// negatives (TN). All weights are positive; penalties are applied with a minus
// sign by the scorer. TN is not used by NAB's scorer.
type Profile struct {
	Name           string
	TP, FP, FN, TN float64
}

// NAB's three application profiles (config/profiles.json of NAB v1.1).
var (
	// Standard is NAB's "standard" profile.
	Standard = Profile{Name: "standard", TP: 1, FP: 0.11, FN: 1, TN: 1}
	// RewardLowFP is NAB's "reward_low_FP_rate" profile: false positives cost
	// twice as much as in Standard.
	RewardLowFP = Profile{Name: "reward_low_FP_rate", TP: 1, FP: 0.22, FN: 1, TN: 1}
	// RewardLowFN is NAB's "reward_low_FN_rate" profile: a missed window
	// costs twice as much as in Standard.
	RewardLowFN = Profile{Name: "reward_low_FN_rate", TP: 1, FP: 0.11, FN: 2, TN: 1}
)

// Profiles returns NAB's three profiles in scoreboard order: standard,
// reward_low_FP_rate, reward_low_FN_rate.
func Profiles() []Profile { return []Profile{Standard, RewardLowFP, RewardLowFN} }

// ProfileByName returns the NAB profile with that name, or an error wrapping
// ErrUnknownProfile.
func ProfileByName(name string) (Profile, error) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("cannot find profile %q: %w", name, ErrUnknownProfile)
}
