// Package payfile writes the files finance pays from: an ISO 20022 pain.001.001.09 customer credit transfer
// initiation for the bank, the pending disbursements as CSV and XLSX for spreadsheets, and the budget by source ×
// delaftale × year as XLSX (budget.go). It is pure: the service collects the payments (with their recipients,
// references and execution dates) and hands them here.
package payfile

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Namespace is the XML namespace of pain.001.001.09.
const Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"

// Debtor is the account the plan pays from.
type Debtor struct {
	Name string
	IBAN string
	BIC  string // optional
}

// Payment is one credit transfer: a pending disbursement to its recipient.
type Payment struct {
	DisbursementID string
	EndToEndID     string // at most 35 characters (store.EndToEndID)
	AmountØre      domain.Money
	ExecutionDate  domain.Date
	CreditorName   string
	CreditorIBAN   string // the recipient's IBAN, or the Danish IBAN of its reg.nr. and kontonr.
	CreditorBIC    string // optional
	Remittance     string // unstructured remittance information: initiative and milestone
}

// Message is a whole payment file: its ID, when it was made, who initiates it and the payments.
type Message struct {
	ID        string // MsgId, at most 35 characters
	CreatedAt time.Time
	Initiator string // InitgPty/Nm: the plan's name
	Debtor    Debtor
	Payments  []Payment
}

// Pain001 writes the message as a pain.001.001.09 document: one PmtInf per execution date (in date order), one
// CdtTrfTxInf per payment, amounts in DKK with two decimals, texts cut to the schema's lengths.
func Pain001(m Message) ([]byte, error) {
	if len(m.Payments) == 0 {
		return nil, fmt.Errorf("payfile: no payments")
	}
	if m.Debtor.IBAN == "" || cut(m.Debtor.Name, 140) == "" {
		return nil, fmt.Errorf("payfile: the debtor needs a name and an IBAN")
	}
	byDate := map[string][]Payment{}
	for _, p := range m.Payments {
		if p.AmountØre <= 0 {
			return nil, fmt.Errorf("payfile: payment %s has amount %d øre", p.DisbursementID, p.AmountØre)
		}
		if p.EndToEndID == "" || len(p.EndToEndID) > 35 {
			return nil, fmt.Errorf("payfile: payment %s has end-to-end reference %q", p.DisbursementID, p.EndToEndID)
		}
		if p.ExecutionDate.IsZero() || p.CreditorIBAN == "" {
			return nil, fmt.Errorf("payfile: payment %s has no execution date or creditor account", p.DisbursementID)
		}
		// Cdtr/Nm is a Max140Text: an empty name is not valid, and a bank needs the recipient's name anyway.
		if cut(p.CreditorName, 140) == "" {
			return nil, fmt.Errorf("payfile: payment %s has no creditor name", p.DisbursementID)
		}
		byDate[p.ExecutionDate.String()] = append(byDate[p.ExecutionDate.String()], p)
	}
	dates := make([]string, 0, len(byDate))
	for d := range byDate {
		dates = append(dates, d)
	}
	sort.Strings(dates)

	doc := document{Xmlns: Namespace}
	init := &doc.Initiation
	init.GrpHdr = groupHeader{MsgID: cut(m.ID, 35), CreDtTm: m.CreatedAt.Format("2006-01-02T15:04:05"),
		NbOfTxs: fmt.Sprint(len(m.Payments)), CtrlSum: Amount(sum(m.Payments)), InitgPty: party{Nm: cut(m.Initiator, 140)}}
	for i, d := range dates {
		ps := byDate[d]
		pi := paymentInfo{PmtInfID: cut(fmt.Sprintf("%s-%d", m.ID, i+1), 35), PmtMtd: "TRF",
			NbOfTxs: fmt.Sprint(len(ps)), CtrlSum: Amount(sum(ps)), ReqdExctnDt: dateChoice{Dt: d},
			Dbtr: party{Nm: cut(m.Debtor.Name, 140)}, DbtrAcct: account{ID: accountID{IBAN: m.Debtor.IBAN}},
			DbtrAgt: agent(m.Debtor.BIC)}
		for _, p := range ps {
			tx := transfer{PmtID: paymentID{EndToEndID: p.EndToEndID},
				Amt:      amountChoice{InstdAmt: instructedAmount{Ccy: "DKK", Value: Amount(p.AmountØre)}},
				Cdtr:     party{Nm: cut(p.CreditorName, 140)},
				CdtrAcct: account{ID: accountID{IBAN: p.CreditorIBAN}},
				RmtInf:   &remittance{Ustrd: cut(p.Remittance, 140)}}
			if p.CreditorBIC != "" {
				a := agent(p.CreditorBIC)
				tx.CdtrAgt = &a
			}
			if tx.RmtInf.Ustrd == "" {
				tx.RmtInf = nil
			}
			pi.Transfers = append(pi.Transfers, tx)
		}
		init.PmtInf = append(init.PmtInf, pi)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("payfile: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Amount writes øre as the decimal kroner amount ISO 20022 expects: "1234567.50".
func Amount(m domain.Money) string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func sum(ps []Payment) domain.Money {
	var s domain.Money
	for _, p := range ps {
		s += p.AmountØre
	}
	return s
}

// cut trims s and cuts it to at most n characters (runes), as the schema's MaxNText types count.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}

func agent(bic string) financialAgent {
	if bic == "" {
		// No BIC: the bank finds the institution from the IBAN. "NOTPROVIDED" is the usual filler.
		return financialAgent{FinInstnID: finInstitution{Othr: &genericID{ID: "NOTPROVIDED"}}}
	}
	return financialAgent{FinInstnID: finInstitution{BICFI: bic}}
}

// The document's shape, in the schema's element order.

type document struct {
	XMLName    xml.Name   `xml:"Document"`
	Xmlns      string     `xml:"xmlns,attr"`
	Initiation initiation `xml:"CstmrCdtTrfInitn"`
}

type initiation struct {
	GrpHdr groupHeader   `xml:"GrpHdr"`
	PmtInf []paymentInfo `xml:"PmtInf"`
}

type groupHeader struct {
	MsgID    string `xml:"MsgId"`
	CreDtTm  string `xml:"CreDtTm"`
	NbOfTxs  string `xml:"NbOfTxs"`
	CtrlSum  string `xml:"CtrlSum"`
	InitgPty party  `xml:"InitgPty"`
}

// party is a PartyIdentification; its name is left out when empty (an empty Nm is not a Max140Text). Pain001
// refuses a debtor or creditor without a name, so only the initiating party can be without one.
type party struct {
	Nm string `xml:"Nm,omitempty"`
}

type paymentInfo struct {
	PmtInfID    string         `xml:"PmtInfId"`
	PmtMtd      string         `xml:"PmtMtd"`
	NbOfTxs     string         `xml:"NbOfTxs"`
	CtrlSum     string         `xml:"CtrlSum"`
	ReqdExctnDt dateChoice     `xml:"ReqdExctnDt"`
	Dbtr        party          `xml:"Dbtr"`
	DbtrAcct    account        `xml:"DbtrAcct"`
	DbtrAgt     financialAgent `xml:"DbtrAgt"`
	Transfers   []transfer     `xml:"CdtTrfTxInf"`
}

type dateChoice struct {
	Dt string `xml:"Dt"`
}

type account struct {
	ID accountID `xml:"Id"`
}

type accountID struct {
	IBAN string `xml:"IBAN"`
}

type financialAgent struct {
	FinInstnID finInstitution `xml:"FinInstnId"`
}

type finInstitution struct {
	BICFI string     `xml:"BICFI,omitempty"`
	Othr  *genericID `xml:"Othr,omitempty"`
}

type genericID struct {
	ID string `xml:"Id"`
}

type transfer struct {
	PmtID    paymentID       `xml:"PmtId"`
	Amt      amountChoice    `xml:"Amt"`
	CdtrAgt  *financialAgent `xml:"CdtrAgt,omitempty"`
	Cdtr     party           `xml:"Cdtr"`
	CdtrAcct account         `xml:"CdtrAcct"`
	RmtInf   *remittance     `xml:"RmtInf,omitempty"`
}

type paymentID struct {
	EndToEndID string `xml:"EndToEndId"`
}

type amountChoice struct {
	InstdAmt instructedAmount `xml:"InstdAmt"`
}

type instructedAmount struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

type remittance struct {
	Ustrd string `xml:"Ustrd"`
}
