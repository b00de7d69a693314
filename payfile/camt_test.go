package payfile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/payfile"
)

// camt053 wraps entries in a camt.053.001.02 statement of the plan's account.
func camt053(entries ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-12-02T18:00:00</CreDtTm></GrpHdr>
<Stmt><Id>STMT-1</Id><Acct><Id><IBAN>DK19 1551 0002 2198 76</IBAN></Id></Acct>` + strings.Join(entries, "\n") +
		`</Stmt></BkToCstmrStmt></Document>`
}

// entry is one Ntry with one TxDtls.
func entry(amount, ccy, ind, e2e, ref string) string {
	return `<Ntry><Amt Ccy="` + ccy + `">` + amount + `</Amt><CdtDbtInd>` + ind + `</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>` + ref + `</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>` + e2e + `</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>`
}

func TestParseCamt053(t *testing.T) {
	t.Parallel()
	doc := camt053(
		entry("150000.5", "DKK", "DBIT", "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1", "BANK-1"),
		entry("75000.00", "DKK", "DBIT", "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1", "BANK-2"), // the same payment twice
		entry("12.3", "EUR", "DBIT", "foreign", "BANK-3"),
		entry("500", "DKK", "CRDT", "NOTPROVIDED", "BANK-4"),
		// A batch entry of two transactions with their own amounts, no per-transaction bank reference.
		`<Ntry><Amt Ccy="DKK">300.75</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><DtTm>2026-12-01T23:30:00Z</DtTm></BookgDt><AcctSvcrRef>BATCH-9</AcctSvcrRef><NtryDtls>
<TxDtls><Refs><EndToEndId>x1</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="DKK">100.25</Amt></TxAmt></AmtDtls></TxDtls>
<TxDtls><Refs><AcctSvcrRef>B9-2</AcctSvcrRef><EndToEndId>x2</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="DKK">200.500</Amt></TxAmt></AmtDtls></TxDtls>
</NtryDtls></Ntry>`)
	st, err := payfile.ParseCamt(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	d := domain.NewDate(2026, 12, 1)
	want := []payfile.Transaction{
		{No: 1, EndToEndID: "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1", AmountØre: 15_000_050, Currency: "DKK", CreditDebit: "DBIT", Status: "BOOK", BookingDate: d, BankRef: "BANK-1"},
		{No: 2, EndToEndID: "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1", AmountØre: 7_500_000, Currency: "DKK", CreditDebit: "DBIT", Status: "BOOK", BookingDate: d, BankRef: "BANK-2"},
		{No: 3, EndToEndID: "foreign", AmountØre: 1230, Currency: "EUR", CreditDebit: "DBIT", Status: "BOOK", BookingDate: d, BankRef: "BANK-3"},
		{No: 4, AmountØre: 50_000, Currency: "DKK", CreditDebit: "CRDT", Status: "BOOK", BookingDate: d, BankRef: "BANK-4"},
		// 23:30 UTC is the next day in Copenhagen.
		{No: 5, EndToEndID: "x1", AmountØre: 10_025, Currency: "DKK", CreditDebit: "DBIT", Status: "BOOK", BookingDate: domain.NewDate(2026, 12, 2)},
		{No: 6, EndToEndID: "x2", AmountØre: 20_050, Currency: "DKK", CreditDebit: "DBIT", Status: "BOOK", BookingDate: domain.NewDate(2026, 12, 2), BankRef: "B9-2"},
	}
	if diff := cmp.Diff(want, st.Transactions, cmp.AllowUnexported(domain.Date{})); diff != "" {
		t.Fatalf("transactions (-want +got):\n%s", diff)
	}
	if st.Kind != "camt.053" || st.MessageID != "MSG-1" || st.StatementID != "STMT-1" || st.Account != "DK1915510002219876" {
		t.Fatalf("statement %+v", st)
	}
}

func TestParseCamtVersions(t *testing.T) {
	t.Parallel()
	// camt.053.001.08: status as Sts/Cd, the transaction's amount as TxDtls/Amt.
	v8 := `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>M8</MsgId></GrpHdr>
<Stmt><Id>S8</Id><Acct><Id><IBAN>DK1915510002219876</IBAN></Id></Acct>
<Ntry><Amt Ccy="DKK">10</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-12-01</Dt></BookgDt>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>R8</AcctSvcrRef><EndToEndId>e8</EndToEndId></Refs><Amt Ccy="DKK">10.00</Amt></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>`
	st, err := payfile.ParseCamt(strings.NewReader(v8))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Transactions) != 1 || st.Transactions[0].AmountØre != 1000 || st.Transactions[0].Status != "BOOK" ||
		st.Transactions[0].BankRef != "R8" || st.Transactions[0].EndToEndID != "e8" {
		t.Fatalf("camt.053.001.08: %+v", st.Transactions)
	}
	// camt.054: the same entries inside Ntfctn.
	v54 := `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N1</MsgId></GrpHdr>
<Ntfctn><Id>N1</Id><Acct><Id><IBAN>DK1915510002219876</IBAN></Id></Acct>` + entry("1.5", "DKK", "DBIT", "e54", "R54") +
		`</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`
	if st, err = payfile.ParseCamt(strings.NewReader(v54)); err != nil {
		t.Fatal(err)
	}
	if st.Kind != "camt.054" || len(st.Transactions) != 1 || st.Transactions[0].AmountØre != 150 {
		t.Fatalf("camt.054: %+v", st)
	}
}

func TestParseCamtRefused(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"doctype_entity": `<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
			camt053(entry("1", "DKK", "DBIT", "&x;", "R")),
		"doctype_bomb":      `<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Document>&b;</Document>`,
		"undeclared_entity": camt053(entry("1", "DKK", "DBIT", "&x;", "R")),
		"malformed":         camt053(entry("1", "DKK", "DBIT", "e", "R"))[:300],
		"mismatched_tags":   `<Document><BkToCstmrStmt></Stmt></BkToCstmrStmt></Document>`,
		"empty":             "  ",
		"pain001":           `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn/></Document>`,
		"wrong_namespace":   `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><BkToCstmrStmt><Stmt/></BkToCstmrStmt></Document>`,
		"three_decimals":    camt053(entry("1.234", "DKK", "DBIT", "e", "R")),
		"negative":          camt053(entry("-1.00", "DKK", "DBIT", "e", "R")),
		"exponent":          camt053(entry("1e3", "DKK", "DBIT", "e", "R")),
		"comma":             camt053(entry("1,50", "DKK", "DBIT", "e", "R")),
		"no_currency":       camt053(entry("1.50", "", "DBIT", "e", "R")),
		"no_indicator":      camt053(entry("1.50", "DKK", "", "e", "R")),
		"no_date":           camt053(strings.Replace(entry("1", "DKK", "DBIT", "e", "R"), "<Dt>2026-12-01</Dt>", "", 1)),
		"bad_date":          camt053(strings.Replace(entry("1", "DKK", "DBIT", "e", "R"), "2026-12-01", "2026-13-01", 1)),
		"no_statement":      `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>`,
		"latin1":            `<?xml version="1.0" encoding="ISO-8859-1"?>` + camt053(),
		"too_large":         camt053(strings.Repeat(" ", payfile.MaxStatementBytes)),
		"batch_without_amounts": camt053(`<Ntry><Amt Ccy="DKK">2</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-12-01</Dt></BookgDt><NtryDtls><TxDtls><Refs><EndToEndId>a</EndToEndId></Refs></TxDtls>
<TxDtls><Refs><EndToEndId>b</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := payfile.ParseCamt(strings.NewReader(doc))
			if !errors.Is(err, payfile.ErrStatement) {
				t.Fatalf("got %v, want ErrStatement", err)
			}
			if err.Error() == "" || strings.Contains(err.Error(), "passwd") && name != "doctype_entity" {
				t.Fatalf("message %q", err)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]domain.Money{"0": 0, "1": 100, "1.5": 150, "1.05": 105, "1234567.89": 123_456_789,
		"10.500": 1050, "0.01": 1, "999999999999.99": 99_999_999_999_999} {
		if got, err := payfile.ParseAmount(in); err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".5", "1.", "1.001", "+1", "-1", "1 000", "1e2", "0x10", "1000000000000", "١٢"} {
		if got, err := payfile.ParseAmount(in); err == nil {
			t.Errorf("ParseAmount(%q) = %d, want an error", in, got)
		}
	}
}

// A pain.001 file comes back from the simulated bank as a camt.053 that books each transfer with its reference
// and amount: the helper the end-to-end loop test uses.
func TestBuildCamt053ForTest(t *testing.T) {
	t.Parallel()
	m := message()
	pain, err := payfile.Pain001(m)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := payfile.BuildCamt053ForTest(pain, domain.NewDate(2026, 12, 2), "DB")
	if err != nil {
		t.Fatal(err)
	}
	st, err := payfile.ParseCamt(strings.NewReader(string(doc)))
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	got := map[string]domain.Money{}
	for _, tx := range st.Transactions {
		if tx.CreditDebit != payfile.Debit || tx.Currency != "DKK" || tx.Status != payfile.StatusBooked ||
			tx.BankRef == "" || tx.BookingDate != domain.NewDate(2026, 12, 2) {
			t.Fatalf("transaction %+v", tx)
		}
		got[tx.EndToEndID] = tx.AmountØre
	}
	want := map[string]domain.Money{}
	for _, p := range m.Payments {
		want[p.EndToEndID] = p.AmountØre
	}
	if diff := cmp.Diff(want, got); diff != "" || st.Account != m.Debtor.IBAN {
		t.Fatalf("booked (-want +got):\n%s\naccount %s", diff, st.Account)
	}
}
