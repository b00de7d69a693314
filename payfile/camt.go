package payfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Bank statements: ISO 20022 camt.053 (BkToCstmrStmt) and camt.054 (BkToCstmrDbtCdtNtfctn), read by local
// element names so camt.053.001.02 and .001.08 (and the same versions of camt.054) parse alike. Reading is strict:
// a DOCTYPE (the door to entity expansion and external entities) is refused outright, the size is bounded and
// every amount must be an exact decimal with at most two significant decimals; encoding/xml never fetches anything.

// MaxStatementBytes bounds a bank statement file: a year of a plan's payments is a few hundred kilobytes.
const MaxStatementBytes = 4 << 20

// maxEntries bounds the transactions of one statement (a hostile file of many tiny entries).
const maxEntries = 20_000

// ErrStatement marks a file that is not a bank statement this package reads; the message (in Danish) says why.
var ErrStatement = errors.New("payfile: not a readable bank statement")

// statementError is an ErrStatement with the Danish reason for finance.
type statementError struct{ msg string }

func (e *statementError) Error() string        { return e.msg }
func (e *statementError) Is(target error) bool { return target == ErrStatement }

func badStatement(format string, a ...any) error {
	return &statementError{msg: fmt.Sprintf(format, a...)}
}

// Credit/debit indicators of an entry.
const (
	Debit  = "DBIT" // money out of the account: a payment
	Credit = "CRDT" // money in
)

// StatusBooked is the status of a booked entry (camt.053.001.02 writes it as text, .001.08 as Sts/Cd).
const StatusBooked = "BOOK"

// Statement is a bank statement (or debit/credit notification) as read from the file.
type Statement struct {
	Kind      string // "camt.053" or "camt.054"
	Namespace string // the document's namespace, e.g. urn:iso:std:iso:20022:tech:xsd:camt.053.001.02
	MessageID string // GrpHdr/MsgId
	// StatementID is Stmt/Id (Ntfctn/Id) of the first statement in the file.
	StatementID string
	// Account is the IBAN of the account the statement is for (of the first statement; "" when not an IBAN).
	Account string
	// Transactions are the statement's transactions in file order: one per TxDtls of an entry, or one for an
	// entry without details.
	Transactions []Transaction
}

// Transaction is one booked (or pending) movement on the account, as a payment of ours would appear.
type Transaction struct {
	No          int    // 1-based position in the file
	EndToEndID  string // NtryDtls/TxDtls/Refs/EndToEndId ("" when absent or NOTPROVIDED)
	AmountØre   domain.Money
	Currency    string
	CreditDebit string // Debit or Credit
	Reversal    bool   // RvslInd: the bank reverses an earlier entry
	Status      string // BOOK, PDNG, INFO
	BookingDate domain.Date
	// BankRef is the bank's own reference of the transaction (TxDtls/Refs/AcctSvcrRef) or, for an entry with one
	// transaction, of the entry (Ntry/AcctSvcrRef); "" when the bank gave none.
	BankRef string
}

// ParseCamt reads a camt.053 or camt.054 document. It refuses (ErrStatement, with the reason in Danish) anything
// larger than MaxStatementBytes, a DOCTYPE or other directive, malformed XML, another document type, and entries
// whose amount, currency, indicator or date is missing or malformed.
func ParseCamt(r io.Reader) (Statement, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxStatementBytes+1))
	if err != nil {
		return Statement{}, fmt.Errorf("payfile: read statement: %w", err)
	}
	if len(data) > MaxStatementBytes {
		return Statement{}, badStatement("Filen er for stor: et kontoudtog må højst fylde %d MB.", MaxStatementBytes>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Statement{}, badStatement("Filen er tom.")
	}
	raw := xml.NewDecoder(bytes.NewReader(data))
	raw.Strict = true
	raw.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("tegnsættet %q understøttes ikke; brug UTF-8", charset)
	}
	dec := xml.NewTokenDecoder(&guard{d: raw})
	var doc camtDocument
	if err := dec.Decode(&doc); err != nil {
		var se *statementError
		if errors.As(err, &se) {
			return Statement{}, se
		}
		return Statement{}, badStatement("Filen er ikke gyldig XML: %s.", shorten(err.Error(), 200))
	}
	if doc.XMLName.Local != "Document" {
		return Statement{}, badStatement("Filen er ikke et ISO 20022-dokument (rodelementet er %q, ikke Document).",
			shorten(doc.XMLName.Local, 40))
	}
	st := Statement{Namespace: doc.XMLName.Space}
	var stmts []camtStatement
	switch {
	case doc.Stmt != nil && doc.Ntfctn == nil:
		st.Kind, st.MessageID, stmts = "camt.053", doc.Stmt.GrpHdr.MsgID, doc.Stmt.Stmts
	case doc.Ntfctn != nil && doc.Stmt == nil:
		st.Kind, st.MessageID, stmts = "camt.054", doc.Ntfctn.GrpHdr.MsgID, doc.Ntfctn.Ntfctns
	default:
		return Statement{}, badStatement("Filen er ikke et kontoudtog (camt.053) eller en posteringsnotifikation (camt.054).")
	}
	if ns := st.Namespace; ns != "" && !strings.HasPrefix(ns, "urn:iso:std:iso:20022:tech:xsd:"+st.Kind+".001.") {
		return Statement{}, badStatement("Filens navnerum %q passer ikke til %s.", shorten(ns, 80), st.Kind)
	}
	if len(stmts) == 0 {
		return Statement{}, badStatement("Kontoudtoget indeholder ingen udtog.")
	}
	st.StatementID = strings.TrimSpace(stmts[0].ID)
	st.Account = strings.ReplaceAll(strings.TrimSpace(stmts[0].Acct.IBAN), " ", "")
	for si, s := range stmts {
		for ei, e := range s.Entries {
			txs, err := e.transactions()
			if err != nil {
				return Statement{}, badStatement("Postering %d i udtog %d: %s", ei+1, si+1, err.Error())
			}
			for _, tx := range txs {
				tx.No = len(st.Transactions) + 1
				st.Transactions = append(st.Transactions, tx)
				if len(st.Transactions) > maxEntries {
					return Statement{}, badStatement("Kontoudtoget har mere end %d posteringer.", maxEntries)
				}
			}
		}
	}
	return st, nil
}

// guard passes the XML tokens through and refuses a DOCTYPE (or any directive): no entity declarations, so no
// expansion bombs and no external entities, whatever the parser would do with them.
type guard struct{ d *xml.Decoder }

func (g *guard) Token() (xml.Token, error) {
	t, err := g.d.RawToken()
	if err != nil {
		return nil, err
	}
	if dir, ok := t.(xml.Directive); ok {
		what := strings.ToUpper(strings.Fields(string(dir) + " x")[0])
		return nil, badStatement("Filen indeholder en %s-erklæring; den slags afvises af sikkerhedshensyn.", shorten(what, 20))
	}
	return xml.CopyToken(t), nil
}

// transactions splits an entry into its transactions: one per TxDtls (with the transaction's own amount when it
// has one), or the entry itself.
func (e camtEntry) transactions() ([]Transaction, error) {
	base := Transaction{CreditDebit: strings.TrimSpace(e.CdtDbtInd), Reversal: strings.TrimSpace(e.RvslInd) == "true",
		Status: e.Sts.code()}
	if base.CreditDebit != Debit && base.CreditDebit != Credit {
		return nil, fmt.Errorf("ukendt debet/kredit-markering %q", shorten(base.CreditDebit, 10))
	}
	var err error
	if base.BookingDate, err = e.BookgDt.date(); err != nil {
		return nil, err
	}
	entryAmt, entryCcy, err := e.Amt.parse()
	if err != nil {
		return nil, err
	}
	var details []camtTxDetails
	for _, d := range e.NtryDtls {
		details = append(details, d.TxDtls...)
	}
	if len(details) == 0 {
		tx := base
		tx.AmountØre, tx.Currency, tx.BankRef = entryAmt, entryCcy, strings.TrimSpace(e.AcctSvcrRef)
		return []Transaction{tx}, nil
	}
	out := make([]Transaction, 0, len(details))
	for _, d := range details {
		tx := base
		tx.EndToEndID = strings.TrimSpace(d.Refs.EndToEndID)
		if strings.EqualFold(tx.EndToEndID, "NOTPROVIDED") {
			tx.EndToEndID = ""
		}
		tx.BankRef = strings.TrimSpace(d.Refs.AcctSvcrRef)
		if tx.BankRef == "" && len(details) == 1 {
			tx.BankRef = strings.TrimSpace(e.AcctSvcrRef)
		}
		switch amt := d.amount(); {
		case amt != nil:
			if tx.AmountØre, tx.Currency, err = amt.parse(); err != nil {
				return nil, err
			}
		case len(details) == 1:
			tx.AmountØre, tx.Currency = entryAmt, entryCcy
		default:
			return nil, fmt.Errorf("en samlet postering med %d transaktioner mangler transaktionernes beløb", len(details))
		}
		if ind := strings.TrimSpace(d.CdtDbtInd); ind != "" {
			if ind != Debit && ind != Credit {
				return nil, fmt.Errorf("ukendt debet/kredit-markering %q", shorten(ind, 10))
			}
			tx.CreditDebit = ind
		}
		out = append(out, tx)
	}
	return out, nil
}

// ParseAmount reads an ISO 20022 decimal amount as øre, exactly: digits, optionally a point and decimals, of
// which at most two may be non-zero ("1234", "1234.5", "1234.50", "1234.500"). Signs, exponents, spaces inside
// and amounts of a billion kroner or more are refused.
func ParseAmount(s string) (domain.Money, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || (hasPoint && frac == "") || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("ugyldigt beløb %q", shorten(s, 30))
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, fmt.Errorf("beløbet %q har mere end to decimaler", shorten(s, 30))
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	var v int64
	for _, c := range whole + frac {
		v = v*10 + int64(c-'0')
	}
	return domain.Money(v), nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// The statement's shape, by local names (any namespace, so every version of the message that keeps them reads).

type camtDocument struct {
	XMLName xml.Name
	Stmt    *camtStatements `xml:"BkToCstmrStmt"`
	Ntfctn  *camtStatements `xml:"BkToCstmrDbtCdtNtfctn"`
}

type camtStatements struct {
	GrpHdr struct {
		MsgID string `xml:"MsgId"`
	} `xml:"GrpHdr"`
	Stmts   []camtStatement `xml:"Stmt"`
	Ntfctns []camtStatement `xml:"Ntfctn"`
}

type camtStatement struct {
	ID   string `xml:"Id"`
	Acct struct {
		IBAN string `xml:"Id>IBAN"`
	} `xml:"Acct"`
	Entries []camtEntry `xml:"Ntry"`
}

type camtEntry struct {
	Amt         camtAmount     `xml:"Amt"`
	CdtDbtInd   string         `xml:"CdtDbtInd"`
	RvslInd     string         `xml:"RvslInd"`
	Sts         camtStatus     `xml:"Sts"`
	BookgDt     camtDate       `xml:"BookgDt"`
	AcctSvcrRef string         `xml:"AcctSvcrRef"`
	NtryDtls    []camtNtryDtls `xml:"NtryDtls"`
}

type camtStatus struct {
	Text string `xml:",chardata"`
	Cd   string `xml:"Cd"`
}

func (s camtStatus) code() string {
	if c := strings.TrimSpace(s.Cd); c != "" {
		return c
	}
	return strings.TrimSpace(s.Text)
}

type camtDate struct {
	Dt   string `xml:"Dt"`
	DtTm string `xml:"DtTm"`
}

func (d camtDate) date() (domain.Date, error) {
	if s := strings.TrimSpace(d.Dt); s != "" {
		v, err := domain.ParseDate(s)
		if err != nil {
			return domain.Date{}, fmt.Errorf("ugyldig bogføringsdato %q", shorten(s, 30))
		}
		return v, nil
	}
	if s := strings.TrimSpace(d.DtTm); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return domain.LocalDate(t), nil
		}
		if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, domain.Copenhagen); err == nil {
			return domain.LocalDate(t), nil
		}
		return domain.Date{}, fmt.Errorf("ugyldigt bogføringstidspunkt %q", shorten(s, 40))
	}
	return domain.Date{}, fmt.Errorf("bogføringsdatoen mangler")
}

type camtAmount struct {
	Value string `xml:",chardata"`
	Ccy   string `xml:"Ccy,attr"`
}

func (a camtAmount) parse() (domain.Money, string, error) {
	m, err := ParseAmount(a.Value)
	if err != nil {
		return 0, "", err
	}
	ccy := strings.TrimSpace(a.Ccy)
	if len(ccy) != 3 || strings.ToUpper(ccy) != ccy || !isLetters(ccy) {
		return 0, "", fmt.Errorf("beløbet %q har ingen gyldig valuta", shorten(a.Value, 30))
	}
	return m, ccy, nil
}

func isLetters(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

type camtNtryDtls struct {
	TxDtls []camtTxDetails `xml:"TxDtls"`
}

type camtTxDetails struct {
	Refs struct {
		AcctSvcrRef string `xml:"AcctSvcrRef"`
		EndToEndID  string `xml:"EndToEndId"`
	} `xml:"Refs"`
	Amt       *camtAmount `xml:"Amt"` // camt.053.001.08
	AmtDtls   *camtAmtDtl `xml:"AmtDtls"`
	CdtDbtInd string      `xml:"CdtDbtInd"`
}

type camtAmtDtl struct {
	TxAmt *struct {
		Amt camtAmount `xml:"Amt"`
	} `xml:"TxAmt"`
	InstdAmt *struct {
		Amt camtAmount `xml:"Amt"`
	} `xml:"InstdAmt"`
}

// amount is the transaction's own amount: Amt (.001.08), else AmtDtls/TxAmt, else AmtDtls/InstdAmt; nil if none.
func (d camtTxDetails) amount() *camtAmount {
	switch {
	case d.Amt != nil:
		return d.Amt
	case d.AmtDtls != nil && d.AmtDtls.TxAmt != nil:
		return &d.AmtDtls.TxAmt.Amt
	case d.AmtDtls != nil && d.AmtDtls.InstdAmt != nil:
		return &d.AmtDtls.InstdAmt.Amt
	}
	return nil
}

// BuildCamt053ForTest is a bank simulation for tests (the end-to-end "out as pain.001, back as camt.053" loop and
// demos): it books every CdtTrfTxInf of the pain.001 document as a DBIT entry of a camt.053.001.02 statement of
// the debtor's account, with the transfer's EndToEndId and amount, booked on bookingDate, and the bank reference
// "<bankRefPrefix>-<n>" (n from 1 in file order). The statement opens with the file's total as its booked balance
// and closes at zero, so it has the balances the schema requires. It is not part of the payment flow: no
// production code calls it.
func BuildCamt053ForTest(pain001 []byte, bookingDate domain.Date, bankRefPrefix string) ([]byte, error) {
	return buildCamt053(pain001, bookingDate, bankRefPrefix, false)
}

// BuildCamt053V08ForTest is BuildCamt053ForTest writing camt.053.001.08 instead (the status as Sts/Cd, the
// creditor as RltdPties/Cdtr/Pty/Nm), the version newer Danish banks send.
func BuildCamt053V08ForTest(pain001 []byte, bookingDate domain.Date, bankRefPrefix string) ([]byte, error) {
	return buildCamt053(pain001, bookingDate, bankRefPrefix, true)
}

func buildCamt053(pain001 []byte, bookingDate domain.Date, bankRefPrefix string, v08 bool) ([]byte, error) {
	var in struct {
		MsgID  string `xml:"CstmrCdtTrfInitn>GrpHdr>MsgId"`
		PmtInf []struct {
			DebtorIBAN string `xml:"DbtrAcct>Id>IBAN"`
			Tx         []struct {
				EndToEndID string     `xml:"PmtId>EndToEndId"`
				Amt        camtAmount `xml:"Amt>InstdAmt"`
				Creditor   string     `xml:"Cdtr>Nm"`
			} `xml:"CdtTrfTxInf"`
		} `xml:"CstmrCdtTrfInitn>PmtInf"`
	}
	if err := xml.Unmarshal(pain001, &in); err != nil {
		return nil, fmt.Errorf("payfile: read pain.001: %w", err)
	}
	if len(in.PmtInf) == 0 || len(in.PmtInf[0].Tx) == 0 {
		return nil, fmt.Errorf("payfile: the pain.001 document has no payments")
	}
	var total domain.Money
	ccy := in.PmtInf[0].Tx[0].Amt.Ccy
	for _, pi := range in.PmtInf {
		for _, tx := range pi.Tx {
			m, c, err := tx.Amt.parse()
			if err != nil {
				return nil, fmt.Errorf("payfile: pain.001 amount of %s: %w", tx.EndToEndID, err)
			}
			if c != ccy {
				return nil, fmt.Errorf("payfile: the pain.001 document mixes %s and %s", ccy, c)
			}
			total += m
		}
	}
	var b strings.Builder
	esc := func(s string) string {
		var w strings.Builder
		_ = xml.EscapeText(&w, []byte(s))
		return w.String()
	}
	ns, status, creditor := "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", "BOOK", "<Nm>%s</Nm>"
	if v08 {
		ns, status, creditor = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08", "<Cd>BOOK</Cd>", "<Pty><Nm>%s</Nm></Pty>"
	}
	date := bookingDate.String()
	balance := func(code string, amount domain.Money) {
		fmt.Fprintf(&b, `<Bal><Tp><CdOrPrtry><Cd>%s</Cd></CdOrPrtry></Tp><Amt Ccy="%s">%s</Amt><CdtDbtInd>CRDT</CdtDbtInd>`+
			`<Dt><Dt>%s</Dt></Dt></Bal>`, code, esc(ccy), Amount(amount), date)
	}
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<Document xmlns="%s"><BkToCstmrStmt>`, ns)
	fmt.Fprintf(&b, `<GrpHdr><MsgId>STMT-%s</MsgId><CreDtTm>%sT18:00:00</CreDtTm></GrpHdr>`, esc(in.MsgID), date)
	fmt.Fprintf(&b, `<Stmt><Id>STMT-%s</Id><CreDtTm>%sT18:00:00</CreDtTm><Acct><Id><IBAN>%s</IBAN></Id></Acct>`,
		esc(in.MsgID), date, esc(in.PmtInf[0].DebtorIBAN))
	balance("OPBD", total)
	balance("CLBD", 0)
	n := 0
	for _, pi := range in.PmtInf {
		for _, tx := range pi.Tx {
			n++
			ref := fmt.Sprintf("%s-%d", bankRefPrefix, n)
			fmt.Fprintf(&b, `<Ntry><Amt Ccy="%s">%s</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>%s</Sts>`+
				`<BookgDt><Dt>%s</Dt></BookgDt><ValDt><Dt>%s</Dt></ValDt><AcctSvcrRef>%s</AcctSvcrRef>`+
				`<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>`+
				`<NtryDtls><TxDtls><Refs><AcctSvcrRef>%s</AcctSvcrRef><EndToEndId>%s</EndToEndId></Refs>`+
				`<AmtDtls><TxAmt><Amt Ccy="%s">%s</Amt></TxAmt></AmtDtls>`+
				`<RltdPties><Cdtr>`+creditor+`</Cdtr></RltdPties></TxDtls></NtryDtls></Ntry>`,
				esc(tx.Amt.Ccy), esc(tx.Amt.Value), status, date, date, esc(ref), esc(ref), esc(tx.EndToEndID),
				esc(tx.Amt.Ccy), esc(tx.Amt.Value), esc(tx.Creditor))
		}
	}
	b.WriteString(`</Stmt></BkToCstmrStmt></Document>` + "\n")
	return []byte(b.String()), nil
}
