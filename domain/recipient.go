package domain

import (
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"
)

// Recipients (modtagere): the organisations a plan pays its tranches to — the housing associations, the
// municipality's departments, others — with the account each is paid on. An account is either an IBAN (with an
// optional BIC) or a Danish reg.nr. and kontonr.; the latter is converted to its Danish IBAN when a payment file is
// written (DanishIBAN), which is what Danish banks expect in an ISO 20022 credit transfer.

// RecipientKind says what kind of organisation a recipient is.
type RecipientKind string

// Recipient kinds.
const (
	RecipientHousingAssociation RecipientKind = "housing_association"
	RecipientMunicipality       RecipientKind = "municipality"
	RecipientOther              RecipientKind = "other"
)

// RecipientKinds lists the kinds in the order the pages offer them.
var RecipientKinds = []RecipientKind{RecipientHousingAssociation, RecipientMunicipality, RecipientOther}

// Name is the kind's Danish label.
func (k RecipientKind) Name() string {
	switch k {
	case RecipientHousingAssociation:
		return "Boligorganisation"
	case RecipientMunicipality:
		return "Kommunal forvaltning"
	case RecipientOther:
		return "Anden modtager"
	}
	return string(k)
}

// Recipient is one recipient organisation and its payment details, as admin keeps them.
type Recipient struct {
	ID     string        `json:"id" yaml:"id"`
	PlanID string        `json:"plan_id" yaml:"-"`
	Name   string        `json:"name" yaml:"name"`
	Kind   RecipientKind `json:"kind" yaml:"kind"`
	CVR    string        `json:"cvr" yaml:"cvr"` // 8 digits, or "" when not given
	// Either IBAN (and optionally BIC) or RegNo and AccountNo; all empty means no payment details yet.
	IBAN      string `json:"iban" yaml:"iban"`
	BIC       string `json:"bic" yaml:"bic"`
	RegNo     string `json:"reg_no" yaml:"reg_no"`
	AccountNo string `json:"account_no" yaml:"account_no"`
}

// Normalize trims the fields, writes the IBAN and BIC in capitals without spaces and removes spaces from the
// Danish account number, so "dk50 0040 0440 1162 43" and "DK5000400440116243" are the same account.
func (r Recipient) Normalize() Recipient {
	r.ID = strings.TrimSpace(r.ID)
	r.Name = strings.TrimSpace(r.Name)
	r.Kind = RecipientKind(strings.TrimSpace(string(r.Kind)))
	r.CVR = strings.ReplaceAll(strings.TrimSpace(r.CVR), " ", "")
	r.IBAN = strings.ToUpper(strings.Join(strings.Fields(r.IBAN), ""))
	r.BIC = strings.ToUpper(strings.Join(strings.Fields(r.BIC), ""))
	r.RegNo = strings.Join(strings.Fields(r.RegNo), "")
	r.AccountNo = strings.Join(strings.Fields(r.AccountNo), "")
	return r
}

// HasPaymentDetails says whether the recipient can be paid: it has an IBAN or a reg.nr. and kontonr.
func (r Recipient) HasPaymentDetails() bool {
	return r.IBAN != "" || (r.RegNo != "" && r.AccountNo != "")
}

// PaymentIBAN is the IBAN to pay the recipient on: its IBAN, or the Danish IBAN of its reg.nr. and kontonr.;
// false when it has no payment details.
func (r Recipient) PaymentIBAN() (string, bool) {
	if r.IBAN != "" {
		return r.IBAN, true
	}
	if r.RegNo != "" && r.AccountNo != "" {
		iban, err := DanishIBAN(r.RegNo, r.AccountNo)
		return iban, err == nil
	}
	return "", false
}

// Account is the recipient's account as a Dane reads it: the IBAN grouped in fours, or "reg.nr. 1234 kontonr.
// 0001234567"; "" when there is none.
func (r Recipient) Account() string {
	if r.IBAN != "" {
		return GroupIBAN(r.IBAN)
	}
	if r.RegNo != "" || r.AccountNo != "" {
		return fmt.Sprintf("reg.nr. %s, kontonr. %s", r.RegNo, r.AccountNo)
	}
	return ""
}

// CheckRecipient checks a normalized recipient: a name, a known kind, a CVR number of 8 digits if any, and
// payment details that are either a valid IBAN (with an optional valid BIC) or a reg.nr. of 4 digits and a
// kontonr. of at most 10 digits — not both. No payment details at all is allowed (the recipient cannot be paid
// until they are added).
func CheckRecipient(r Recipient) error {
	var p problems
	switch {
	case r.Name == "":
		p.add("name", "required", "Skriv modtagerens navn.")
	case utf8.RuneCountInString(r.Name) > 70:
		// 70 is the length of a creditor's name in an ISO 20022 payment (Max70Text).
		p.add("name", "too_long", "Navnet må højst have 70 tegn (det står i betalingsfilen).")
	}
	switch r.Kind {
	case RecipientHousingAssociation, RecipientMunicipality, RecipientOther:
	case "":
		p.add("kind", "required", "Vælg hvilken slags modtager det er.")
	default:
		p.add("kind", "unknown", "Ukendt slags modtager %q.", r.Kind)
	}
	if r.CVR != "" && !digits(r.CVR, 8, 8) {
		p.add("cvr", "invalid", "Et CVR-nummer er 8 cifre.")
	}
	hasDanish := r.RegNo != "" || r.AccountNo != ""
	if r.IBAN != "" && hasDanish {
		p.add("iban", "both_accounts", "Angiv enten IBAN eller reg.nr. og kontonr., ikke begge.")
	}
	if r.IBAN != "" {
		if err := CheckIBAN(r.IBAN); err != nil {
			p.add("iban", "invalid", "%s", err.Error())
		}
	}
	if r.BIC != "" {
		if r.IBAN == "" {
			p.add("bic", "without_iban", "BIC bruges kun sammen med et IBAN.")
		} else if !validBIC(r.BIC) {
			p.add("bic", "invalid", "En BIC er 8 eller 11 tegn: 4 bogstaver (banken), 2 bogstaver (landet), 2 tegn (stedet) og evt. 3 tegn (filialen).")
		}
	}
	if hasDanish && r.IBAN == "" {
		if !digits(r.RegNo, 4, 4) {
			p.add("reg_no", "invalid", "Et reg.nr. er 4 cifre.")
		}
		if !digits(r.AccountNo, 1, 10) {
			p.add("account_no", "invalid", "Et kontonr. er op til 10 cifre.")
		}
	}
	return p.err("Modtageren kan ikke gemmes.")
}

// ibanLengths is the length of an IBAN per country, for the countries a Danish plan may pay to (the Nordic
// countries and the EU's larger neighbours). An IBAN from a country not listed is checked by its check digits and
// the general length limits only.
var ibanLengths = map[string]int{
	"DK": 18, "FO": 18, "GL": 18, "NO": 15, "SE": 24, "FI": 18, "IS": 26, "DE": 22, "NL": 18, "BE": 16,
	"FR": 27, "GB": 22, "IE": 22, "PL": 28, "ES": 24, "IT": 27, "AT": 20, "LU": 20, "EE": 20, "LT": 20, "LV": 21,
}

// CheckIBAN checks a normalized IBAN (capitals, no spaces): a country code of two letters, two check digits,
// letters and digits only, the country's length where known (18 for Denmark) and the ISO 13616 mod-97 check. The
// error's text is Danish, for the field it concerns.
func CheckIBAN(iban string) error {
	if len(iban) < 5 || len(iban) > 34 {
		return fmt.Errorf("Et IBAN har 15-34 tegn; %q har %d.", iban, len(iban))
	}
	if !isUpper(iban[0]) || !isUpper(iban[1]) {
		return fmt.Errorf("Et IBAN begynder med landekoden, to bogstaver (fx DK).")
	}
	if !isDigit(iban[2]) || !isDigit(iban[3]) {
		return fmt.Errorf("Et IBAN har to kontrolcifre efter landekoden.")
	}
	for i := 0; i < len(iban); i++ {
		if !isUpper(iban[i]) && !isDigit(iban[i]) {
			return fmt.Errorf("Et IBAN består kun af bogstaver og cifre.")
		}
	}
	if n, ok := ibanLengths[iban[:2]]; ok && len(iban) != n {
		return fmt.Errorf("Et IBAN fra %s har %d tegn; dette har %d.", iban[:2], n, len(iban))
	}
	if iban[:2] == "DK" && !digits(iban[2:], 16, 16) {
		return fmt.Errorf("Et dansk IBAN har kun cifre efter DK.")
	}
	if ibanMod97(iban[4:]+iban[:4]) != 1 {
		return fmt.Errorf("IBAN'ets kontrolcifre passer ikke; tjek for tastefejl.")
	}
	return nil
}

// DanishIBAN is the Danish IBAN of reg.nr. reg (4 digits) and kontonr. account (up to 10 digits): "DK", the two
// mod-97 check digits, the reg.nr. and the kontonr. padded with zeros to 10 digits.
func DanishIBAN(reg, account string) (string, error) {
	if !digits(reg, 4, 4) || !digits(account, 1, 10) {
		return "", fmt.Errorf("reg.nr. %q og kontonr. %q er ikke en dansk konto", reg, account)
	}
	bban := reg + strings.Repeat("0", 10-len(account)) + account
	return IBANWithCheckDigits("DK", bban), nil
}

// IBANWithCheckDigits computes the check digits of the IBAN for country (two capitals) and bban (capitals and
// digits) and returns the IBAN.
func IBANWithCheckDigits(country, bban string) string {
	check := 98 - ibanMod97(bban+country+"00")
	return fmt.Sprintf("%s%02d%s", country, check, bban)
}

// GroupIBAN writes an IBAN in groups of four, as it is printed: "DK50 0040 0440 1162 43".
func GroupIBAN(iban string) string {
	var b strings.Builder
	for i, r := range iban {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ibanMod97 is s with letters replaced by 10..35, as a number modulo 97.
func ibanMod97(s string) int64 {
	var num strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			fmt.Fprintf(&num, "%d", int(c-'A')+10)
		} else {
			num.WriteByte(c)
		}
	}
	n, ok := new(big.Int).SetString(num.String(), 10)
	if !ok {
		return -1
	}
	return new(big.Int).Mod(n, big.NewInt(97)).Int64()
}

func validBIC(b string) bool {
	if len(b) != 8 && len(b) != 11 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case i >= 4 && i < 6:
			if !isUpper(c) {
				return false
			}
		case i < 4:
			if !isUpper(c) && !isDigit(c) {
				return false
			}
		default:
			if !isUpper(c) && !isDigit(c) {
				return false
			}
		}
	}
	return true
}

// digits says whether s is between min and max ASCII digits long.
func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
