package api

import (
	"fmt"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
)

// Changes after approval (ændringer): the proposer or the secretariat asks for a new budget and milestone plan,
// the board votes on it through /decision with matter change, and the secretariat records Landsbyggefonden's
// answer to a strategic one. As for every action: access and role first, then the path, then the body.

func (s *server) requestChange(c echo.Context) error {
	t, err := s.begin(c, service.ActRequestChange)
	if err != nil {
		return err
	}
	var b changeBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	budget, milestones, dates := b.toDomain()
	in, err := s.svc.RequestChange(c.Request().Context(), t, b.Reason, budget, milestones, append(input, dates...), idem(c))
	return s.answer(c, in, err)
}

// changeNo parses {no}; the workflow's rule decides whether that change is open.
func changeNo(c echo.Context) (int, error) {
	n, err := strconv.Atoi(c.Param("no"))
	if err != nil || n < 1 {
		return 0, badRequest("no", "invalid", "Ændringens nummer skal være et heltal fra 1 og op.")
	}
	return n, nil
}

func (s *server) recordLBF(c echo.Context) error {
	t, err := s.begin(c, service.ActRecordLBF)
	if err != nil {
		return err
	}
	no, err := changeNo(c)
	if err != nil {
		return err
	}
	var b lbfBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	var letter domain.Date
	if b.LetterDate != "" {
		d, err := domain.ParseDate(b.LetterDate)
		if err != nil {
			input = append(input, domain.FieldProblem{Field: "letter_date", Code: "invalid_date",
				Message: fmt.Sprintf("%q er ikke en dato; brug ÅÅÅÅ-MM-DD.", b.LetterDate)})
		} else {
			letter = d
		}
	}
	in, err := s.svc.RecordLBF(c.Request().Context(), t, no, b.Approved, letter, b.Reference, input, idem(c))
	return s.answer(c, in, err)
}
