package payfile_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
)

func message() payfile.Message {
	return payfile.Message{ID: "HP-20261126-101500", CreatedAt: time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC),
		Initiator: "Boligsocial helhedsplan Viborg 2021-2025",
		Debtor:    payfile.Debtor{Name: "Boligsocial helhedsplan Viborg", IBAN: "DK1915510002219876", BIC: "DABADKKK"},
		Payments: []payfile.Payment{
			{DisbursementID: "a-t1", EndToEndID: "at1", AmountØre: 15_000_001, ExecutionDate: domain.NewDate(2026, 12, 1),
				CreditorName: "Boligselskabet Sct. Jørgen", CreditorIBAN: "DK1476810004567890",
				Remittance: "Lektiecafé i Houlkærvænget, milepæl 1: Opstart"},
			{DisbursementID: "b-t2", EndToEndID: "bt2", AmountØre: 5, ExecutionDate: domain.NewDate(2026, 11, 27),
				CreditorName: "Boligselskabet Viborg", CreditorIBAN: "DK4395700012345678", CreditorBIC: "DABADKKK",
				Remittance: strings.Repeat("Lang tekst ", 30)},
			{DisbursementID: "c-t1", EndToEndID: "ct1", AmountØre: 123_456_789_00, ExecutionDate: domain.NewDate(2026, 12, 1),
				CreditorName: "Viborg Kommune – Børn og Unge", CreditorIBAN: "DK9007600003334445",
				Remittance: "Mentorordning, milepæl 3: Afslutning"},
		}}
}

// parsed is the document read back, in the schema's names.
type parsed struct {
	XMLName xml.Name
	GrpHdr  struct {
		MsgID    string `xml:"MsgId"`
		CreDtTm  string `xml:"CreDtTm"`
		NbOfTxs  string `xml:"NbOfTxs"`
		CtrlSum  string `xml:"CtrlSum"`
		InitgPty string `xml:"InitgPty>Nm"`
	} `xml:"CstmrCdtTrfInitn>GrpHdr"`
	PmtInf []struct {
		PmtInfID string `xml:"PmtInfId"`
		PmtMtd   string `xml:"PmtMtd"`
		NbOfTxs  string `xml:"NbOfTxs"`
		CtrlSum  string `xml:"CtrlSum"`
		Date     string `xml:"ReqdExctnDt>Dt"`
		Debtor   string `xml:"Dbtr>Nm"`
		DebtorAc string `xml:"DbtrAcct>Id>IBAN"`
		DebtorAg string `xml:"DbtrAgt>FinInstnId>BICFI"`
		Tx       []struct {
			E2E    string `xml:"PmtId>EndToEndId"`
			Amount struct {
				Ccy   string `xml:"Ccy,attr"`
				Value string `xml:",chardata"`
			} `xml:"Amt>InstdAmt"`
			AgentBIC   string `xml:"CdtrAgt>FinInstnId>BICFI"`
			Creditor   string `xml:"Cdtr>Nm"`
			IBAN       string `xml:"CdtrAcct>Id>IBAN"`
			Remittance string `xml:"RmtInf>Ustrd"`
		} `xml:"CdtTrfTxInf"`
	} `xml:"CstmrCdtTrfInitn>PmtInf"`
}

func TestPain001Content(t *testing.T) {
	b, err := payfile.Pain001(message())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Fatalf("no XML declaration: %.80s", b)
	}
	var doc parsed
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Space != payfile.Namespace || doc.XMLName.Local != "Document" {
		t.Fatalf("root %v", doc.XMLName)
	}
	if doc.GrpHdr.NbOfTxs != "3" || doc.GrpHdr.CtrlSum != "123606789.06" || doc.GrpHdr.MsgID != "HP-20261126-101500" ||
		doc.GrpHdr.CreDtTm != "2026-11-26T10:15:00" {
		t.Fatalf("group header %+v", doc.GrpHdr)
	}
	// One PmtInf per execution date, earliest first.
	if len(doc.PmtInf) != 2 || doc.PmtInf[0].Date != "2026-11-27" || doc.PmtInf[1].Date != "2026-12-01" {
		t.Fatalf("payment informations %+v", doc.PmtInf)
	}
	first, second := doc.PmtInf[0], doc.PmtInf[1]
	if first.NbOfTxs != "1" || first.CtrlSum != "0.05" || second.NbOfTxs != "2" || second.CtrlSum != "123606789.01" {
		t.Fatalf("counts and sums per date: %s/%s, %s/%s", first.NbOfTxs, first.CtrlSum, second.NbOfTxs, second.CtrlSum)
	}
	for _, pi := range doc.PmtInf {
		if pi.PmtMtd != "TRF" || pi.Debtor != "Boligsocial helhedsplan Viborg" || pi.DebtorAc != "DK1915510002219876" ||
			pi.DebtorAg != "DABADKKK" {
			t.Errorf("debtor side %+v", pi)
		}
	}
	type tx struct{ E2E, Ccy, Amount, Creditor, IBAN, BIC, Remittance string }
	var got []tx
	for _, pi := range doc.PmtInf {
		for _, x := range pi.Tx {
			got = append(got, tx{x.E2E, x.Amount.Ccy, x.Amount.Value, x.Creditor, x.IBAN, x.AgentBIC, x.Remittance})
		}
	}
	want := []tx{
		{"bt2", "DKK", "0.05", "Boligselskabet Viborg", "DK4395700012345678", "DABADKKK",
			strings.TrimSpace(strings.Repeat("Lang tekst ", 30)[:140])},
		{"at1", "DKK", "150000.01", "Boligselskabet Sct. Jørgen", "DK1476810004567890", "",
			"Lektiecafé i Houlkærvænget, milepæl 1: Opstart"},
		{"ct1", "DKK", "123456789.00", "Viborg Kommune – Børn og Unge", "DK9007600003334445", "",
			"Mentorordning, milepæl 3: Afslutning"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("transactions (-want +got):\n%s", diff)
	}
	if len([]rune(got[0].Remittance)) > 140 {
		t.Errorf("Ustrd has %d characters, the schema allows 140", len([]rune(got[0].Remittance)))
	}
	checkStructure(t, b)
}

func TestPain001RefusesWhatTheSchemaWouldNot(t *testing.T) {
	for name, mod := range map[string]func(*payfile.Message){
		"no_payments":  func(m *payfile.Message) { m.Payments = nil },
		"no_debtor":    func(m *payfile.Message) { m.Debtor.IBAN = "" },
		"zero_amount":  func(m *payfile.Message) { m.Payments[0].AmountØre = 0 },
		"long_e2e":     func(m *payfile.Message) { m.Payments[0].EndToEndID = strings.Repeat("x", 36) },
		"no_account":   func(m *payfile.Message) { m.Payments[0].CreditorIBAN = "" },
		"no_exec_date": func(m *payfile.Message) { m.Payments[0].ExecutionDate = domain.Date{} },
	} {
		m := message()
		mod(&m)
		if _, err := payfile.Pain001(m); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}

func TestPain001WithoutBICSaysNotProvided(t *testing.T) {
	m := message()
	m.Debtor.BIC = ""
	b, err := payfile.Pain001(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<DbtrAgt>\n        <FinInstnId>\n          <Othr>\n            <Id>NOTPROVIDED</Id>")) {
		t.Fatalf("debtor agent without BIC:\n%s", b)
	}
	checkStructure(t, b)
}

// schemaOrder is, for each element the writer uses, its children in the order pain.001.001.09 defines them
// (only those this writer may write, plus their neighbours in the sequence), with the required ones marked "!".
// checkStructure walks a document against it: every child known, in sequence order, required ones present, each
// text within its type's length — the structural half of the schema, as far as it can be checked without the XSD.
var schemaOrder = map[string][]string{
	"Document":         {"!CstmrCdtTrfInitn"},
	"CstmrCdtTrfInitn": {"!GrpHdr", "!PmtInf*"},
	"GrpHdr":           {"!MsgId", "!CreDtTm", "Authstn*", "!NbOfTxs", "CtrlSum", "!InitgPty", "FwdgAgt"},
	"InitgPty":         {"Nm", "PstlAdr", "Id", "CtryOfRes", "CtctDtls"},
	"PmtInf": {"!PmtInfId", "!PmtMtd", "BtchBookg", "NbOfTxs", "CtrlSum", "PmtTpInf", "!ReqdExctnDt",
		"PoolgAdjstmntDt", "!Dbtr", "!DbtrAcct", "!DbtrAgt", "DbtrAgtAcct", "InstrForDbtrAgt", "UltmtDbtr", "ChrgBr",
		"ChrgsAcct", "ChrgsAcctAgt", "!CdtTrfTxInf*"},
	"ReqdExctnDt": {"Dt", "DtTm"},
	"Dbtr":        {"Nm", "PstlAdr", "Id", "CtryOfRes", "CtctDtls"},
	"Cdtr":        {"Nm", "PstlAdr", "Id", "CtryOfRes", "CtctDtls"},
	"DbtrAcct":    {"!Id", "Tp", "Ccy", "Nm", "Prxy"},
	"CdtrAcct":    {"!Id", "Tp", "Ccy", "Nm", "Prxy"},
	"Id":          {"IBAN", "Othr"},
	"DbtrAgt":     {"!FinInstnId", "BrnchId"},
	"CdtrAgt":     {"!FinInstnId", "BrnchId"},
	"FinInstnId":  {"BICFI", "ClrSysMmbId", "LEI", "Nm", "PstlAdr", "Othr"},
	"Othr":        {"!Id", "SchmeNm", "Issr"},
	"CdtTrfTxInf": {"!PmtId", "PmtTpInf", "!Amt", "XchgRateInf", "ChrgBr", "ChqInstr", "UltmtDbtr", "IntrmyAgt1",
		"IntrmyAgt1Acct", "IntrmyAgt2", "IntrmyAgt2Acct", "IntrmyAgt3", "IntrmyAgt3Acct", "CdtrAgt", "CdtrAgtAcct",
		"Cdtr", "CdtrAcct", "UltmtCdtr", "InstrForCdtrAgt*", "InstrForDbtrAgt", "Purp", "RgltryRptg*", "Tax",
		"RltdRmtInf*", "RmtInf"},
	"PmtId":  {"InstrId", "!EndToEndId", "UETR"},
	"Amt":    {"InstdAmt", "EqvtAmt"},
	"RmtInf": {"Ustrd*", "Strd*"},
}

// textRules are the simple types of the leaves this writer fills: a pattern check and the maximum length.
var textRules = map[string]func(string) bool{
	"MsgId":      maxLen(35),
	"PmtInfId":   maxLen(35),
	"EndToEndId": maxLen(35),
	"Nm":         maxLen(140),
	"Ustrd":      maxLen(140),
	"NbOfTxs":    func(s string) bool { return len(s) >= 1 && len(s) <= 15 && digitsOnly(s) },
	"PmtMtd":     func(s string) bool { return s == "TRF" || s == "CHK" || s == "TRA" },
	"CreDtTm":    func(s string) bool { _, err := time.Parse("2006-01-02T15:04:05", s); return err == nil },
	"Dt":         func(s string) bool { _, err := time.Parse("2006-01-02", s); return err == nil },
	"IBAN":       func(s string) bool { return domain.CheckIBAN(s) == nil },
	"BICFI": func(s string) bool {
		return (len(s) == 8 || len(s) == 11) && strings.ToUpper(s) == s
	},
	"CtrlSum":  decimal(18, 17),
	"InstdAmt": decimal(18, 5),
	"Id":       maxLen(35),
}

func maxLen(n int) func(string) bool {
	return func(s string) bool { return s != "" && len([]rune(s)) <= n }
}

func digitsOnly(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func decimal(total, fraction int) func(string) bool {
	return func(s string) bool {
		whole, frac, _ := strings.Cut(s, ".")
		return whole != "" && digitsOnly(whole) && digitsOnly(frac) && len(frac) <= fraction &&
			len(whole)+len(frac) <= total
	}
}

// reporter is what checkStructure reports to: a *testing.T, or a recorder in the test of the checker itself.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
}

type recorder struct{ problems []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.problems = append(r.problems, fmt.Sprint(args...)) }

func checkStructure(t reporter, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	type frame struct {
		name     string
		children []string
		text     strings.Builder
		attrs    []xml.Attr
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if tk.Name.Space != payfile.Namespace {
				t.Errorf("element %s in namespace %q", tk.Name.Local, tk.Name.Space)
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.children = append(top.children, tk.Name.Local)
			} else if tk.Name.Local != "Document" {
				t.Errorf("root %s", tk.Name.Local)
			}
			stack = append(stack, &frame{name: tk.Name.Local, attrs: tk.Attr})
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tk)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			path := f.name
			if order, ok := schemaOrder[f.name]; ok && len(f.children) > 0 {
				checkSequence(t, path, order, f.children)
			} else if rule, leaf := textRules[f.name]; ok && leaf {
				// Othr/Id is text, AccountIdentification's Id is a choice of elements: same name, two types.
				if !rule(f.text.String()) {
					t.Errorf("%s = %q breaks its type", f.name, f.text.String())
				}
			} else if ok {
				checkSequence(t, path, order, nil)
			} else if len(f.children) > 0 {
				t.Errorf("%s has children %v, but the checker knows no content model for it", path, f.children)
			} else if rule, ok := textRules[f.name]; ok {
				if !rule(f.text.String()) {
					t.Errorf("%s = %q breaks its type", f.name, f.text.String())
				}
			} else {
				t.Errorf("leaf %s is not a known simple element", f.name)
			}
			if f.name == "InstdAmt" {
				if len(f.attrs) != 1 || f.attrs[0].Name.Local != "Ccy" || f.attrs[0].Value != "DKK" {
					t.Errorf("InstdAmt attributes %v, want Ccy=\"DKK\"", f.attrs)
				}
			}
		}
	}
}

// checkSequence checks children against a sequence: each known, in order, "*" ones repeatable, "!" ones present.
func checkSequence(t reporter, parent string, order, children []string) {
	t.Helper()
	pos := 0
	seen := map[string]int{}
	for _, c := range children {
		found := false
		for ; pos < len(order); pos++ {
			name := strings.Trim(order[pos], "!*")
			if name == c {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: child %s is unknown or out of order in %v", parent, c, children)
			return
		}
		seen[c]++
		if seen[c] > 1 && !strings.HasSuffix(order[pos], "*") {
			t.Errorf("%s: %s occurs %d times", parent, c, seen[c])
		}
	}
	for _, o := range order {
		if strings.HasPrefix(o, "!") && seen[strings.Trim(o, "!*")] == 0 {
			t.Errorf("%s: required %s missing (children %v)", parent, strings.Trim(o, "!*"), children)
		}
	}
	// A choice (Id, ReqdExctnDt, Amt, FinInstnId's identification) holds exactly one alternative.
	if (parent == "Id" || parent == "ReqdExctnDt" || parent == "Amt") && len(children) != 1 {
		t.Errorf("%s is a choice but has %v", parent, children)
	}
}

func TestXLSXOpensWithDanishHeadersAndNumbers(t *testing.T) {
	rows := []payfile.Row{
		{DisbursementID: "a-t1", EndToEndID: "at1", InitiativeTitle: "Lektiecafé", MilestoneNo: 1, MilestoneTitle: "Opstart",
			AmountØre: 15_000_001, Released: domain.NewDate(2026, 11, 2), ExecutionDate: domain.NewDate(2026, 11, 16),
			RecipientName: "Boligselskabet Sct. Jørgen", Account: "DK1476810004567890"},
		{DisbursementID: "b-t1", InitiativeTitle: "=HYPERLINK(\"x\")", MilestoneNo: 2, MilestoneTitle: "Første år",
			AmountØre: 5, Released: domain.NewDate(2026, 11, 3), ExecutionDate: domain.NewDate(2026, 11, 17),
			NotExportable: "Indsatsen har ingen modtager."},
	}
	b, err := payfile.XLSX(rows)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != payfile.SheetName {
		t.Fatalf("sheets %v", got)
	}
	all, err := f.GetRows(payfile.SheetName, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(payfile.Headers, all[0]); diff != "" {
		t.Fatalf("headers (-want +got):\n%s", diff)
	}
	if len(all) != 3 {
		t.Fatalf("%d rows, want header + 2", len(all))
	}
	for i, want := range []float64{150000.01, 0.05} {
		cell := fmt.Sprintf("F%d", i+2)
		typ, err := f.GetCellType(payfile.SheetName, cell)
		if err != nil || typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
			t.Errorf("%s has type %v (%v), want a number", cell, typ, err)
		}
		raw, _ := f.GetCellValue(payfile.SheetName, cell, excelize.Options{RawCellValue: true})
		if raw != fmt.Sprint(want) {
			t.Errorf("%s = %s, want %v kr.", cell, raw, want)
		}
		shown, _ := f.GetCellValue(payfile.SheetName, cell)
		if i == 0 && shown != "150,000.01" {
			t.Errorf("%s is shown as %q, want the #,##0.00 format", cell, shown)
		}
	}
	if shown, _ := f.GetCellValue(payfile.SheetName, "G2"); shown != "02-11-2026" {
		t.Errorf("release date shown as %q", shown)
	}
	if got, _ := f.GetCellValue(payfile.SheetName, "K3"); got != "Indsatsen har ingen modtager." {
		t.Errorf("reason %q", got)
	}
	if got, _ := f.GetCellValue(payfile.SheetName, "C3"); got != "=HYPERLINK(\"x\")" {
		t.Errorf("title %q", got)
	}
	if formula, _ := f.GetCellFormula(payfile.SheetName, "C3"); formula != "" {
		t.Errorf("a typed title became formula %q", formula)
	}
}

func TestCSVIsForDanishExcel(t *testing.T) {
	b, err := payfile.CSV([]payfile.Row{{DisbursementID: "a-t1", EndToEndID: "at1", InitiativeTitle: "=1+1",
		MilestoneNo: 1, MilestoneTitle: "Opstart", AmountØre: 123_456_789, Released: domain.NewDate(2026, 11, 2),
		ExecutionDate: domain.NewDate(2026, 11, 16), RecipientName: "Boligselskabet Viborg", Account: "DK4395700012345678"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
	if !strings.HasPrefix(lines[0], "\uFEFFUdbetaling;End-to-end-reference;Indsats;") || len(lines) != 2 {
		t.Fatalf("CSV:\n%s", b)
	}
	want := "a-t1;at1;'=1+1;1;Opstart;1234567,89;02.11.2026;16.11.2026;Boligselskabet Viborg;DK4395700012345678;"
	if lines[1] != want {
		t.Fatalf("row\n%s\nwant\n%s", lines[1], want)
	}
}

// The structural check must itself catch what the schema forbids, or it proves nothing.
func TestStructureCheckFindsBrokenDocuments(t *testing.T) {
	good, err := payfile.Pain001(message())
	if err != nil {
		t.Fatal(err)
	}
	for name, broken := range map[string]string{
		"order_swapped":  strings.Replace(string(good), "<MsgId>HP-20261126-101500</MsgId>\n      <CreDtTm>2026-11-26T10:15:00</CreDtTm>", "<CreDtTm>2026-11-26T10:15:00</CreDtTm>\n      <MsgId>HP-20261126-101500</MsgId>", 1),
		"required_gone":  strings.Replace(string(good), "<PmtMtd>TRF</PmtMtd>", "", -1),
		"bad_iban":       strings.Replace(string(good), "DK1476810004567890", "DK1476810004567891", 1),
		"three_decimals": strings.Replace(string(good), ">0.05</InstdAmt>", ">0.0500001</InstdAmt>", 1),
		"foreign_ns":     strings.Replace(string(good), payfile.Namespace, "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03", 1),
		"unknown_child":  strings.Replace(string(good), "<PmtMtd>TRF</PmtMtd>", "<PmtMtd>TRF</PmtMtd><Foo>1</Foo>", 1),
		"long_e2e":       strings.Replace(string(good), "<EndToEndId>at1</EndToEndId>", "<EndToEndId>"+strings.Repeat("x", 36)+"</EndToEndId>", 1),
	} {
		if broken == string(good) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		var r recorder
		checkStructure(&r, []byte(broken))
		if len(r.problems) == 0 {
			t.Errorf("%s: the structural check found nothing", name)
		}
	}
	var r recorder
	checkStructure(&r, good)
	if len(r.problems) != 0 {
		t.Errorf("good document: %v", r.problems)
	}
}
