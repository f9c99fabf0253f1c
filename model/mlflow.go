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
	// decode again, keeping the order (slower, so only for errors).
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

// column is one column of a pandas-like frame.
type column struct {
	name  string
	pos   int  // the name is this position (pandas' default RangeIndex), not a string
	named bool // name is a string
	cells []any
	vals  []float64 // the column as float64, once cast (nil before)
	// object: the cells are lists (a multi-dimensional value per row);
	// pandas keeps such a column as dtype object.
	object bool
}

func (c *column) label() string {
	if c.named {
		return c.name
	}
	return fmt.Sprint(c.pos)
}

func (c *column) pyRepr() string {
	if c.named {
		return pyStrRepr(c.name)
	}
	return fmt.Sprint(c.pos)
}

// frame is the pandas DataFrame MLflow builds from a request.
type frame struct {
	cols  []*column
	n     int
	index []string // row labels ("index" of dataframe_split); nil: 0, 1, ...
}

func positional(n int) []*column {
	cols := make([]*column, n)
	for i := range cols {
		cols[i] = &column{pos: i}
	}
	return cols
}

// splitFrame builds the frame of a dataframe_split value, as
// pd.DataFrame(index=..., columns=..., data=...).
func splitFrame(v any, ord keyOrder) (*frame, error) {
	d, ok := v.(map[string]any)
	if !ok {
		what := "type " + pyType(v)
		if _, isList := v.([]any); isList {
			what = "list"
		}
		return nil, invalidInput("Dataframe split format must be a dictionary. Got %s.", what)
	}
	_, hasData := d["data"]
	extra := false
	for k := range d {
		if k != "columns" && k != "data" && k != "index" {
			extra = true
		}
	}
	if !hasData || extra {
		return nil, invalidInput("Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got %s.'",
			pySetOfKeys(d, ord))
	}
	notValid := func(msg string) error {
		return invalidInput("Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '%s'", msg)
	}
	rows, ok := d["data"].([]any)
	if !ok {
		return nil, notValid("DataFrame constructor not properly called!")
	}
	var cols []*column
	if c, ok := d["columns"]; ok && c != nil {
		names, ok := c.([]any)
		if !ok {
			return nil, notValid("Index(...) must be called with a collection of some kind, " + pyValueRepr(c) + " was passed")
		}
		for i, n := range names {
			if s, ok := n.(string); ok {
				cols = append(cols, &column{name: s, named: true})
			} else {
				cols = append(cols, &column{name: pyValueRepr(n), pos: i})
			}
		}
	}
	f, err := rowsFrame(rows, cols, ord)
	if err != nil {
		return nil, notValid(err.Error())
	}
	if ix, ok := d["index"]; ok && ix != nil {
		labels, ok := ix.([]any)
		if !ok {
			return nil, notValid("Index(...) must be called with a collection of some kind, " + pyValueRepr(ix) + " was passed")
		}
		if len(labels) != f.n {
			return nil, notValid(fmt.Sprintf("Length of values (%d) does not match length of index (%d)", f.n, len(labels)))
		}
		f.index = make([]string, len(labels))
		for i, l := range labels {
			f.index[i] = pyStrOf(l)
		}
	}
	return f, nil
}

// rowsFrame builds a frame from a list of rows (lists, padded to the widest)
// or of scalars (one column). cols names the columns, or nil for positions.
func rowsFrame(rows []any, cols []*column, ord keyOrder) (*frame, error) {
	// pandas looks at the first row: a list makes rows of values, anything
	// else one column holding every row as it is.
	listRows := false
	if len(rows) > 0 {
		_, listRows = rows[0].([]any)
	}
	width := 1
	lists := make([][]any, len(rows))
	if listRows {
		width = 0
		for i, r := range rows {
			switch x := r.(type) {
			case []any:
				lists[i] = x
			case map[string]any: // iterated as its keys
				for _, k := range ord.keys(x) {
					lists[i] = append(lists[i], k)
				}
			case string: // iterated as its characters
				for _, c := range x {
					lists[i] = append(lists[i], string(c))
				}
			default:
				return nil, fmt.Errorf("object of type '%s' has no len()", pyTypeName(r))
			}
			width = max(width, len(lists[i]))
		}
	} else {
		for i, r := range rows {
			lists[i] = []any{r}
		}
	}
	if cols == nil {
		cols = positional(width)
	} else if len(rows) > 0 && width != len(cols) {
		if !listRows {
			return nil, fmt.Errorf("Shape of passed values is (%d, 1), indices imply (%d, %d)", len(rows), len(rows), len(cols))
		}
		return nil, fmt.Errorf("%d columns passed, passed data had %d columns", len(cols), width)
	}
	for _, c := range cols {
		c.cells = make([]any, len(rows))
	}
	for i, l := range lists {
		for j := range cols {
			if j < len(l) {
				cols[j].cells[i] = l[j]
			} // shorter rows are padded with None, as pandas does
		}
	}
	return &frame{cols: cols, n: len(rows)}, nil
}

// recordsFrame builds the frame of a dataframe_records value, as pd.DataFrame(data=...).
func recordsFrame(v any, ord keyOrder) (*frame, error) {
	rows, ok := v.([]any)
	if !ok {
		what := "type " + pyType(v)
		if _, isMap := v.(map[string]any); isMap {
			what = "dictionary"
		}
		return nil, invalidInput("Dataframe records format must be a list of records. Got %s.", what)
	}
	f, err := dictRowsFrame(rows, ord)
	if err != nil {
		return nil, invalidInput("Provided dataframe_records field is not a valid dataframe representation in 'records' format. Error: '%s'", err.Error())
	}
	return f, nil
}

// dictRowsFrame builds a frame from rows that are all objects (columns in
// order of first appearance, missing cells None), or else as rowsFrame does.
func dictRowsFrame(rows []any, ord keyOrder) (*frame, error) {
	if len(rows) == 0 {
		return rowsFrame(rows, nil, ord)
	}
	if _, ok := rows[0].(map[string]any); !ok {
		return rowsFrame(rows, nil, ord)
	}
	for _, r := range rows {
		if _, ok := r.(map[string]any); !ok {
			return nil, fmt.Errorf("'%s' object has no attribute 'keys'", pyTypeName(r))
		}
	}
	var cols []*column
	index := map[string]*column{}
	for i, r := range rows {
		for _, k := range ord.keys(r.(map[string]any)) {
			c := index[k]
			if c == nil {
				c = &column{name: k, named: true, cells: make([]any, len(rows))}
				index[k] = c
				cols = append(cols, c)
			}
			c.cells[i] = r.(map[string]any)[k]
		}
	}
	return &frame{cols: cols, n: len(rows)}, nil
}

// castFrame converts the columns the signature names to double, as MLflow's
// cast_df_types_according_to_schema does with pandas' astype(float64).
func castFrame(m *Model, f *frame) error {
	for _, c := range f.cols {
		if !c.named || !m.hasFeature(c.name) {
			continue
		}
		vals := make([]float64, len(c.cells))
		for i, cell := range c.cells {
			v, perr := toFloat(cell)
			if perr != nil {
				return invalidInput("Data is not compatible with model signature. Failed to convert column %s to type 'float64'. Error: '%s'",
					c.name, pyExcRepr(perr.class, perr.msg))
			}
			vals[i] = v
		}
		c.vals = vals
	}
	return nil
}

func (m *Model) hasFeature(name string) bool {
	for _, f := range m.Features {
		if f == name {
			return true
		}
	}
	return false
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
