package domain_test

import (
	"errors"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestCheckIBAN(t *testing.T) {
	for _, iban := range []string{"DK5000400440116243", "DK1476810004567890", "GB82WEST12345698765432",
		"NO9386011117947", "DE89370400440532013000", "SE4550000000058398257466"} {
		if err := domain.CheckIBAN(iban); err != nil {
			t.Errorf("CheckIBAN(%s) = %v, want valid", iban, err)
		}
	}
	for name, iban := range map[string]string{
		"check_digits_wrong": "DK5000400440116244",
		"dk_17_chars":        "DK500040044011624",
		"dk_19_chars":        "DK50004004401162430",
		"no_country":         "5500400440116243",
		"lower_case":         "dk5000400440116243",
		"letters_in_dk":      "DK50004004401162A3",
		"punctuation":        "DK50-0040044011624",
		"too_short":          "DK50",
	} {
		if err := domain.CheckIBAN(iban); err == nil {
			t.Errorf("%s: CheckIBAN(%s) = nil, want refused", name, iban)
		}
	}
}

func TestDanishIBANPadsTheAccountAndComputesTheCheckDigits(t *testing.T) {
	for _, c := range []struct{ reg, konto, want string }{
		{"7681", "4567890", "DK1476810004567890"},
		{"0040", "0440116243", "DK5000400440116243"},
	} {
		got, err := domain.DanishIBAN(c.reg, c.konto)
		if err != nil || got != c.want {
			t.Errorf("DanishIBAN(%s, %s) = %q, %v; want %q", c.reg, c.konto, got, err, c.want)
		}
		if err := domain.CheckIBAN(got); err != nil {
			t.Errorf("DanishIBAN(%s, %s) = %s is not valid: %v", c.reg, c.konto, got, err)
		}
	}
	if _, err := domain.DanishIBAN("768", "1"); err == nil {
		t.Error("a 3-digit reg.nr. gave an IBAN")
	}
	if _, err := domain.DanishIBAN("7681", "12345678901"); err == nil {
		t.Error("an 11-digit kontonr. gave an IBAN")
	}
}

func TestCheckRecipientNamesTheField(t *testing.T) {
	ok := domain.Recipient{Name: "Boligselskabet Viborg", Kind: domain.RecipientHousingAssociation, CVR: "12345678",
		IBAN: "dk50 0040 0440 1162 43"}
	if err := domain.CheckRecipient(ok.Normalize()); err != nil {
		t.Fatalf("valid recipient refused: %v", err)
	}
	if got := ok.Normalize().IBAN; got != "DK5000400440116243" {
		t.Fatalf("normalized IBAN %q", got)
	}
	noAccount := domain.Recipient{Name: "Ny forening", Kind: domain.RecipientOther}
	if err := domain.CheckRecipient(noAccount); err != nil {
		t.Fatalf("a recipient without payment details yet was refused: %v", err)
	}
	for name, c := range map[string]struct {
		mod   func(*domain.Recipient)
		field string
	}{
		"name_missing":         {func(r *domain.Recipient) { r.Name = "" }, "name"},
		"kind_unknown":         {func(r *domain.Recipient) { r.Kind = "bank" }, "kind"},
		"cvr_7_digits":         {func(r *domain.Recipient) { r.CVR = "1234567" }, "cvr"},
		"iban_check_digits":    {func(r *domain.Recipient) { r.IBAN = "DK5100400440116243" }, "iban"},
		"iban_and_reg":         {func(r *domain.Recipient) { r.RegNo, r.AccountNo = "7681", "1" }, "iban"},
		"bic_malformed":        {func(r *domain.Recipient) { r.BIC = "DAB" }, "bic"},
		"bic_without_iban":     {func(r *domain.Recipient) { r.IBAN, r.BIC, r.RegNo, r.AccountNo = "", "DABADKKK", "7681", "1" }, "bic"},
		"reg_3_digits":         {func(r *domain.Recipient) { r.IBAN, r.RegNo, r.AccountNo = "", "768", "1" }, "reg_no"},
		"konto_11_digits":      {func(r *domain.Recipient) { r.IBAN, r.RegNo, r.AccountNo = "", "7681", "12345678901" }, "account_no"},
		"konto_without_reg":    {func(r *domain.Recipient) { r.IBAN, r.AccountNo = "", "1234" }, "reg_no"},
		"name_over_70_letters": {func(r *domain.Recipient) { r.Name = string(make([]rune, 71)) + "x" }, "name"},
	} {
		r := ok.Normalize()
		c.mod(&r)
		err := domain.CheckRecipient(r)
		var re *domain.RuleError
		if !errors.As(err, &re) || re.Code != domain.CodeValidation {
			t.Errorf("%s: got %v, want a validation refusal", name, err)
			continue
		}
		found := false
		for _, p := range re.Problems {
			found = found || p.Field == c.field
		}
		if !found {
			t.Errorf("%s: problems %+v do not name field %q", name, re.Problems, c.field)
		}
	}
}
