package api

import "github.com/labstack/echo/v4"

func (s *server) registerReturns(add func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc),
	read, write []echo.MiddlewareFunc) {
}
