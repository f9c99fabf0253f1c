package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// MLflow error codes (names of MLflow's ErrorCode proto) that the MLflow
// payload parsers report in [MLflowError].
const (
	// MLflowBadRequest: the body cannot be read as a request (bad JSON, wrong
	// envelope, a value that does not convert to a number). HTTP 400.
	MLflowBadRequest = "BAD_REQUEST"
	// MLflowInvalidParameterValue: the body is a well-formed request whose
	// data does not fit the model signature (a missing column, unnamed
	// columns). HTTP 400.
	MLflowInvalidParameterValue = "INVALID_PARAMETER_VALUE"
)

// ErrSchema is wrapped (besides [ErrBadInput]) by the errors of
// [ParseMLflowJSON] and [ParseCSV] that MLflow raises while enforcing the
// model signature; they carry the code [MLflowInvalidParameterValue].
var ErrSchema = errors.New("input does not match the model signature")

// MLflowError is an error of [ParseMLflowJSON] or [ParseCSV] as an MLflow
// 3.11 scoring server reports it: Code is the error_code and Message the
// message of its {"error_code","message"} answer. It wraps [ErrBadInput],
// and [ErrSchema] when Code is [MLflowInvalidParameterValue].
type MLflowError struct {
	Code    string
	Message string
}

func (e *MLflowError) Error() string { return e.Message }

// Unwrap returns ErrBadInput, and ErrSchema for schema errors.
func (e *MLflowError) Unwrap() []error {
	if e.Code == MLflowInvalidParameterValue {
		return []error{ErrBadInput, ErrSchema}
	}
	return []error{ErrBadInput}
}

// MLflow's message texts.
const (
	mlflowRequiredFormat = "The input must be a JSON dictionary with exactly one of the input fields " +
		"{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
	// MLflowProtocolChangeInfo is the note MLflow appends to envelope and
	// content-type errors.
	MLflowProtocolChangeInfo = "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are" +
		" seeing this error, you are likely using an outdated scoring request format. To resolve the" +
		" error, either update your request format or adjust your MLflow Model's requirements file to" +
		" specify an older version of MLflow (for example, change the 'mlflow' requirement specifier" +
		" to 'mlflow==1.30.0'). If you are making a request using the MLflow client" +
		" (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in" +
		" order to use the new request format. For more information about the updated MLflow" +
		" Model scoring protocol in MLflow 2.0, see" +
		" https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
	mlflowEvalError = "Encountered an unexpected error while evaluating the model. Verify" +
		" that the serialized input Dataframe is compatible with the model for inference."
	// echoLimit bounds how much of a bad body is echoed in a message
	// (MLflow echoes all of it).
	echoLimit = 1024
	// orderedDecodeLimit is the largest body whose error message keeps the
	// request's key order.
	orderedDecodeLimit = 64 << 10
)

func mlBadRequest(format string, args ...any) *MLflowError {
	return &MLflowError{Code: MLflowBadRequest, Message: fmt.Sprintf(format, args...)}
}

// invalidInput is MLflow's MlflowInvalidInputException: BAD_REQUEST, "Invalid input. " first.
func invalidInput(format string, args ...any) *MLflowError {
	return mlBadRequest("Invalid input. "+format, args...)
}

// llmKeys make MLflow treat a JSON body as "unified LLM input".
var llmKeys = []string{"messages", "prompt", "input"}

// ParseMLflowJSON parses an MLflow scoring-protocol JSON request body (the
// body of POST /invocations with Content-Type application/json) into rows of
// feature values in the order of m.Features, the way an MLflow 3.11 scoring
// server does for a model whose signature names m.Features as required
// double columns.
//
// The body must be an object with exactly one of dataframe_split,
// dataframe_records, instances or inputs; other keys (such as params) are
// ignored. Columns are matched to features by name; extra columns are
// ignored. Values are converted as MLflow converts them to double: numbers,
// numeric strings ("3.5", " 1e3 "), booleans (1, 0). Every error is an
// [*MLflowError]: MLflowBadRequest for a malformed body or an unconvertible
// value, MLflowInvalidParameterValue for data that does not fit the
// signature (a missing column, rows as lists where the signature names
// columns, a column of lists). Null, NaN and infinite values and an empty
// row set fail as MLflow's model evaluation does (BAD_REQUEST).
func ParseMLflowJSON(m *Model, body []byte) ([][]float64, error) {
	top, err := decodeMLflowJSON(body)
	if err != nil {
		return nil, err
	}
	rows, err := parseMLflow(m, top, nil, body)
	if err == nil {
		return rows, nil
	}
	// Messages print objects in request order, as Python's dicts keep it:
	// decode again, keeping the order. That decoder allocates ~8 times more
	// than the first, so large bodies keep the sorted order.
	if len(body) > orderedDecodeLimit {
		return nil, err
	}
	if top, ord, oerr := decodeOrdered(body); oerr == nil {
		_, err = parseMLflow(m, top, ord, body)
	}
	return nil, err
}

// parseMLflow parses a decoded request body; ord gives the key order of
// its objects (nil: sorted).
func parseMLflow(m *Model, top map[string]any, ord keyOrder, body []byte) ([][]float64, error) {
	for _, k := range llmKeys {
		if _, ok := top[k]; ok {
			// Unified LLM input: every key is data, handed to the model as
			// the dictionary it is (converted here as "inputs" would be).
			in := castSchemaType(m, anyMap(top), ord)
			in.raw, in.rawSet = anyMap(top), true
			return enforce(m, in)
		}
	}
	var found []string
	for _, k := range mlflowKeys {
		if _, ok := top[k]; ok {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return nil, mlBadRequest("%s. Received dictionary with input fields: %s. %s",
			mlflowRequiredFormat, pyStrList(formatKeysInOrder(body)), MLflowProtocolChangeInfo)
	}
	v := top[found[0]]
	switch found[0] {
	case FormatDataframeSplit:
		f, err := splitFrame(v, ord)
		if err != nil {
			return nil, err
		}
		return enforceFrame(m, f, castFrame, nil)
	case FormatDataframeRecords:
		f, err := recordsFrame(v, ord)
		if err != nil {
			return nil, err
		}
		return enforceFrame(m, f, castFrame, nil)
	case FormatInstances:
		return enforce(m, parseInstances(m, v, ord))
	default: // inputs
		return enforce(m, castSchemaType(m, v, ord))
	}
}

func anyMap(m map[string]any) any { return m }

// decodeMLflowJSON decodes the body as Python's json.loads and checks that it
// is an object, with MLflow's messages.
func decodeMLflowJSON(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonDecodeError(body, err)
	}
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, invalidJSON(body, "Extra data", len(body)-len(rest))
	}
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case []any:
		return nil, invalidInput("%s. Received a list.", mlflowRequiredFormat)
	default:
		return nil, invalidInput("%s. Received unexpected input type '%s.", mlflowRequiredFormat, pyType(v))
	}
}

// jsonDecodeError is MLflow's answer to a body json.loads refuses.
func jsonDecodeError(body []byte, _ error) error {
	what, pos := pyJSONProblem(body)
	return invalidJSON(body, what, pos)
}

func invalidJSON(body []byte, what string, pos int) error {
	echo := body
	if len(echo) > echoLimit {
		echo = echo[:echoLimit]
	}
	return invalidInput("Ensure that input is a valid JSON formatted string. Error: '%s'\nInput: \n%s\n",
		pyExcRepr("JSONDecodeError", pyJSONDecodeError(body, what, pos)), pyBytesRepr(echo))
}

// formatKeysInOrder lists the top-level keys of body that are request
// formats, in body order (as Python's dict keeps them).
func formatKeysInOrder(body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	keys := []string{}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return keys
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := t.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
		for _, f := range mlflowKeys {
			if k == f && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// pySetOfKeys is repr() of a set of the object's keys.
func pySetOfKeys(d map[string]any, ord keyOrder) string {
	ks := ord.keys(d)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = pyStrRepr(k)
	}
	if len(parts) == 0 {
		return "set()"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// finalRows enforces the signature on f (already cast) and returns the rows.
// repr prints the data for messages (nil: the frame, as pandas prints it).
func enforceFrame(m *Model, f *frame, cast func(*Model, *frame) error, repr func() string) ([][]float64, error) {
	if repr == nil {
		repr = f.repr
	}
	if cast != nil {
		if err := cast(m, f); err != nil {
			return nil, err
		}
	}
	byName := map[string][]*column{}
	for _, c := range f.cols {
		if c.named {
			byName[c.name] = append(byName[c.name], c)
		}
	}
	var missing []string
	for _, name := range m.Features {
		if len(byName[name]) == 0 {
			missing = append(missing, name)
		}
	}
	schemaErr := func(msg string) error {
		d := repr()
		return &MLflowError{Code: MLflowInvalidParameterValue, Message: fmt.Sprintf(
			"Failed to predict data '%s'. \nError: Failed to enforce schema of data '%s' with schema '%s'. Error: %s",
			d, d, m.schemaRepr(), msg)}
	}
	if len(missing) > 0 {
		msg := "Model is missing inputs " + pyStrList(missing) + "."
		var extra []string
		for _, c := range f.cols {
			if !c.named || !m.hasFeature(c.name) {
				extra = append(extra, c.pyRepr())
			}
		}
		if len(extra) > 0 {
			msg += " Note that there were extra inputs: [" + strings.Join(extra, ", ") + "]"
		}
		return nil, schemaErr(msg)
	}
	cols := make([][]float64, len(m.Features))
	for i, name := range m.Features {
		cs := byName[name]
		if len(cs) > 1 {
			return nil, schemaErr("'DataFrame' object has no attribute 'dtype'")
		}
		if cs[0].object || cs[0].vals == nil {
			return nil, schemaErr("Incompatible input types for column " + name + ". Can not safely convert object to float64.")
		}
		cols[i] = cs[0].vals
	}
	if f.n == 0 {
		return nil, mlBadRequest("%s", mlflowEvalError)
	}
	b := newRowBuilder(len(m.Features), f.n)
	for r := range f.n {
		row := b.next()
		for i := range cols {
			v := cols[i][r]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				// scikit-learn refuses NaN and infinity: "Input X contains NaN."
				return nil, mlBadRequest("%s", mlflowEvalError)
			}
			row[i] = v
		}
	}
	return b.rows()
}

// schemaRepr is repr() of the MLflow signature: every feature a required double column.
func (m *Model) schemaRepr() string {
	parts := make([]string, len(m.Features))
	for i, f := range m.Features {
		parts[i] = pyStrRepr(f) + ": double (required)"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
