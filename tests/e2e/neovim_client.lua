-- Headless Neovim (0.7+) as an independent LSP client of the Lingua server.
-- Inputs come from the environment; one JSON object goes to $LINGUA_NVIM_OUT; exit code 0 on success.
local env = vim.env
local out_path = env.LINGUA_NVIM_OUT
local result = { steps = {} }

local function finish(code)
  local file = io.open(out_path, "w")
  file:write(vim.json.encode(result))
  file:close()
  if code == 0 then vim.cmd("qall!") else vim.cmd("cquit " .. code) end
end

local function fail(message)
  result.error = message
  finish(1)
end

local function only_result(responses, what)
  if not responses then fail(what .. ": no answer (timeout)") return nil end
  for _, response in pairs(responses) do
    if response.error then fail(what .. ": " .. vim.inspect(response.error)) return nil end
    return response.result
  end
  fail(what .. ": empty answer")
end

vim.defer_fn(function()
  local ok, err = pcall(function()
    local client_id = vim.lsp.start_client({
      name = "lingua",
      cmd = { env.LINGUA_PYTHON, "-m", "server" },
      cmd_cwd = env.LINGUA_ROOT,
      root_dir = env.LINGUA_WORKSPACE,
      init_options = { settings = { tokenBudget = 40 } },
    })
    if not vim.lsp.buf_attach_client(0, client_id) then return fail("could not attach") end
    local ready = vim.wait(20000, function()
      local client = vim.lsp.get_client_by_id(client_id)
      return client ~= nil and client.initialized
    end, 50)
    if not ready then return fail("server did not initialize") end
    table.insert(result.steps, "initialized")

    -- hover on the line that holds {{firstName}}
    local row = tonumber(env.LINGUA_HOVER_LINE)
    vim.api.nvim_win_set_cursor(0, { row, 4 })
    local hover = only_result(vim.lsp.buf_request_sync(0, "textDocument/hover", vim.lsp.util.make_position_params(), 20000), "hover")
    if not hover then return end
    result.hover = hover.contents.value or hover.contents
    result.hover_range = hover.range
    table.insert(result.steps, "hover")

    -- code actions on a selection: the system block's first paragraph
    local first, last = tonumber(env.LINGUA_SELECT_FIRST), tonumber(env.LINGUA_SELECT_LAST)
    local last_line = vim.api.nvim_buf_get_lines(0, last - 1, last, false)[1]
    local params = vim.lsp.util.make_given_range_params({ first, 0 }, { last, #last_line })
    params.context = { diagnostics = {} }
    local actions = only_result(vim.lsp.buf_request_sync(0, "textDocument/codeAction", params, 20000), "codeAction")
    if not actions then return end
    result.titles = {}
    local chosen
    for _, action in ipairs(actions) do
      table.insert(result.titles, action.title)
      if action.title == "Compress selection 2x" then chosen = action end
    end
    if not chosen then return fail("no 2x action") end
    table.insert(result.steps, "actions")

    -- resolve runs the model (loaded now, for the first time), then apply the edit
    local resolved = only_result(vim.lsp.buf_request_sync(0, "codeAction/resolve", chosen, 240000), "resolve")
    if not resolved then return end
    if not resolved.edit then return fail("resolved action has no edit") end
    vim.lsp.util.apply_workspace_edit(resolved.edit, "utf-16")
    result.text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
    table.insert(result.steps, "applied")
    vim.lsp.stop_client(client_id)
    finish(0)
  end)
  if not ok then fail("lua error: " .. tostring(err)) end
end, 10)
