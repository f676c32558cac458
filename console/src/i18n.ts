import { createContext, useContext } from "react";

export type Lang = "zh" | "en";

const zh = {
  title: "paycore 运营控制台", signin: "登录", token: "操作员令牌", signout: "退出", lang: "English",
  overview: "概览", merchants: "商户", payments: "支付与退款", settlement: "结算", channels: "通道", proposals: "待审批", risk: "风控", audit: "审计日志",
  period: "时间段", last24h: "最近24小时", last7d: "最近7天", count: "笔数", volume: "金额", success_rate: "成功率", fees: "手续费", refunds: "退款",
  last30d: "最近30天", from: "从", to: "到", per_hour: "按小时", per_day: "按天", bad_period: "请选择开始和结束日期（结束不早于开始）", period_too_long: "时间段最长93天", amount_yuan: "金额（元）",
  payouts_succeeded: "付款成功", open_alerts: "未处理告警", raised: "本期新增", network_cost: "通道成本", risk_alerts_open: "未处理风控告警", exceptions_open: "未处理对账差错", payment_alerts: "结果未明的支付", payout_alerts: "结果未明的付款",
  search: "查询", out_trade_no: "商户订单号", status: "状态", amount: "金额", channel: "通道", created: "创建时间", merchant: "商户号", next: "下一页", loading: "加载中…",
  detail: "详情", refund: "退款", refund_amount: "退款金额（元）", reason: "原因", refunded: "已退款", route_reason: "路由原因", balance: "商户余额", pending: "待结算", available: "可用",
  suspend: "冻结", activate: "恢复", rotate_key: "轮换密钥", new_secret: "新密钥（只显示一次）", settlement_account: "结算账户变更", account_name: "户名", account_number: "账号", bank_code: "行号", propose: "提交审批",
  settlement_held: "结算暂停", release_hold: "申请解除结算暂停",
  proposed: "已提交，等待另一位操作员审批", approve: "批准", reject: "驳回", none: "暂无", enabled: "启用", disabled: "停用", enable: "启用", disable: "停用", healthy: "健康",
  run_settlement: "执行结算", date: "日期", running: "执行中…", done: "完成", action: "操作", operator: "操作员", target: "对象", time: "时间", rules: "规则", alerts: "告警", kind: "类型",
  payouts: "付款", rails: "清算通道", next_open: "下次开放", per_item_max: "单笔上限",
  entity: "主体", sub_merchants: "子商户", failed_to: "失败", state_history: "状态历史", refund_done: "退款已提交",
  role_admin: "管理员", role_operator: "操作员", role_auditor: "审计员（只读）", agreements: "协议", reconciliation: "对账",
  user_ref: "用户标识", last4: "卡号后四位", bank: "银行", card_type: "卡类型", full_card_refused: "不接受完整卡号：请输入后四位", unbound: "已解约",
  timeline: "状态历史", network_summary: "网络报文摘要", notifications: "通知投递", redeliver: "重新投递", attempts: "尝试", deliveries: "投递",
  runs: "对账批次", exceptions: "差错队列", accept_network: "以网络为准", write_off: "核销", requery: "重新查询", note: "备注", run_reconciliation: "执行对账",
  flagged: "被标记商户", signals: "信号", score: "分数", cost_bps: "费率（bps）", cost_fixed: "每笔固定成本（元）", propose_cost: "提交成本变更", health: "健康状况",
  calls: "调用", errors: "错误", progress: "进度", batches: "批量付款", jobs: "后台任务", close: "关闭", all: "全部", open: "未处理", resolved: "已处理", buffered: "缓冲",
  journal: "记账分录", recon_result: "对账结果", result: "结果", approver_only: "需另一位有权限的操作员审批",
  lines: "明细行", matched: "平账", file_net: "文件净额", settled: "网络已结算", write_off_four_eyes: "核销双人审批起点", recon_alerts: "对账告警",
  record: "交易", platform_side: "平台金额", network_side: "网络金额", pending_action: "处理中", submit: "提交",
  flagged_one: "已标记", flagged_only: "只看被标记的", run_monitor: "立即评分", held: "暂停结算", value: "数值", contribution: "贡献分", closed: "已关闭", name: "名称", applies_to: "适用于",
  scope: "维度", max_count: "笔数上限", max_amount: "金额上限", window: "时间窗", mode: "模式", alert: "告警", settlement_hold: "暂停结算",
  new_rule: "新建规则", max_amount_yuan: "金额上限（元）", window_seconds: "时间窗（秒）", create: "创建", created_one: "已创建", bad_number: "请输入正整数", bad_yuan: "请输入金额（元，最多两位小数）",
  save: "保存", cancel: "取消", edit: "修改", blocklist: "黑名单", card_number: "卡号", id_number: "身份证号", phone: "手机号", block_value: "完整号码（只保存指纹和后四位）",
  hint: "后四位", add: "添加", remove: "删除", removed: "已删除", blocked: "已加入黑名单",
  statements: "对账单", opening: "期初余额", closing: "期末余额", account: "账户", reference: "关联单号", totals: "合计", settlement_payouts: "结算付款指令", payee: "收款账户",
  line_payment: "支付", line_fee: "手续费", line_refund: "退款", line_fee_returned: "退还手续费", line_settlement: "结算", line_payout: "付款",
  fee_min: "最低手续费", fee_min_yuan: "最低手续费（元）", fee_rate_bps: "费率（bps）", change_fee: "修改费率", fee_changed: "费率已修改",
  settlement_runs: "结算批次", run_failed: "失败", phase_settle: "结算分组", phase_payout: "执行付款", phase_loading: "加载明细", phase_matching: "勾对",
  phase_resolving: "自动处理差错", phase_settling: "网络结算入账", phase_done: "完成", phase_running: "进行中", phase_failed: "失败", records_created: "新结算记录", payouts_created: "付款指令",
  lines_final: "已有结果", api_keys: "API 密钥", revoke: "吊销", expires: "到期", lines_accepted: "已受理", batch: "批次", error: "错误",
  kind_network_only: "长款（网络有平台无）", kind_platform_only: "短款（平台有网络无）", kind_amount_mismatch: "金额不符", kind_status_mismatch: "状态不符", kind_fee_mismatch: "手续费不符",
};
const en: typeof zh = {
  title: "paycore operations console", signin: "Sign in", token: "Operator token", signout: "Sign out", lang: "中文",
  overview: "Overview", merchants: "Merchants", payments: "Payments & refunds", settlement: "Settlement", channels: "Channels", proposals: "Proposals", risk: "Risk", audit: "Audit log",
  period: "Period", last24h: "Last 24 hours", last7d: "Last 7 days", count: "Count", volume: "Volume", success_rate: "Success rate", fees: "Fees", refunds: "Refunds",
  last30d: "Last 30 days", from: "From", to: "To", per_hour: "Per hour", per_day: "Per day", bad_period: "Pick a start and an end date (the end not before the start)", period_too_long: "A period covers at most 93 days", amount_yuan: "Amount (yuan)",
  payouts_succeeded: "Payouts succeeded", open_alerts: "Open alerts", raised: "raised in period", network_cost: "Network cost", risk_alerts_open: "Open risk alerts", exceptions_open: "Open reconciliation exceptions", payment_alerts: "Payments with no outcome after all queries", payout_alerts: "Payouts with no outcome after all queries",
  search: "Search", out_trade_no: "out_trade_no", status: "Status", amount: "Amount", channel: "Channel", created: "Created", merchant: "Merchant ID", next: "Next page", loading: "Loading…",
  detail: "Detail", refund: "Refund", refund_amount: "Refund amount (yuan)", reason: "Reason", refunded: "Refunded", route_reason: "Route reason", balance: "Merchant balance", pending: "Pending", available: "Available",
  suspend: "Suspend", activate: "Activate", rotate_key: "Rotate key", new_secret: "New secret (shown once)", settlement_account: "Change settlement account", account_name: "Account name", account_number: "Account number", bank_code: "Bank code", propose: "Propose",
  settlement_held: "Settlement held", release_hold: "Propose releasing the hold",
  proposed: "Proposed: waits for another operator's approval", approve: "Approve", reject: "Reject", none: "Nothing here", enabled: "Enabled", disabled: "Disabled", enable: "Enable", disable: "Disable", healthy: "Healthy",
  run_settlement: "Run settlement", date: "Date", running: "Running…", done: "Done", action: "Action", operator: "Operator", target: "Target", time: "Time", rules: "Rules", alerts: "Alerts", kind: "Kind",
  payouts: "Payouts", rails: "Rails", next_open: "Next open", per_item_max: "Per-item cap",
  entity: "Entity", sub_merchants: "Sub-merchants", failed_to: "Failed", state_history: "State history", refund_done: "Refund submitted",
  role_admin: "admin", role_operator: "operator", role_auditor: "auditor (read-only)", agreements: "Agreements", reconciliation: "Reconciliation",
  user_ref: "user_ref", last4: "Card last 4", bank: "Bank", card_type: "Card type", full_card_refused: "No full card numbers: type the last 4 digits", unbound: "Unbound",
  timeline: "State history", network_summary: "Network messages summary", notifications: "Notification deliveries", redeliver: "Redeliver", attempts: "Attempts", deliveries: "Deliveries",
  runs: "Reconciliation runs", exceptions: "Exception queue", accept_network: "Accept network", write_off: "Write off", requery: "Requery", note: "Note", run_reconciliation: "Run reconciliation",
  flagged: "Flagged merchants", signals: "Signals", score: "Score", cost_bps: "Rate (bps)", cost_fixed: "Fixed cost per item (yuan)", propose_cost: "Propose cost change", health: "Health",
  calls: "Calls", errors: "Errors", progress: "Progress", batches: "Batch payouts", jobs: "Background jobs", close: "Close", all: "All", open: "Open", resolved: "Resolved", buffered: "Buffered",
  journal: "Journal entries", recon_result: "Reconciliation result", result: "Result", approver_only: "Needs another operator allowed to approve",
  lines: "Lines", matched: "Matched", file_net: "File net", settled: "Settled by network", write_off_four_eyes: "write-offs need a second operator from", recon_alerts: "Reconciliation alerts",
  record: "Record", platform_side: "paycore's amount", network_side: "Network's amount", pending_action: "under way", submit: "Submit",
  flagged_one: "flagged", flagged_only: "Flagged only", run_monitor: "Score now", held: "Held", value: "Value", contribution: "Contribution", closed: "Closed", name: "Name", applies_to: "Applies to",
  scope: "Scope", max_count: "Max count", max_amount: "Max amount", window: "Window", mode: "Mode", alert: "Alert", settlement_hold: "Hold settlement",
  new_rule: "New rule", max_amount_yuan: "Max amount (yuan)", window_seconds: "Window (seconds)", create: "Create", created_one: "Created", bad_number: "a whole number, please", bad_yuan: "an amount in yuan with at most two decimals, please",
  save: "Save", cancel: "Cancel", edit: "Change", blocklist: "Blocklist", card_number: "Card number", id_number: "ID number", phone: "Phone", block_value: "Full number (only its fingerprint and last 4 are kept)",
  hint: "Last 4", add: "Add", remove: "Remove", removed: "Removed", blocked: "Blocked",
  statements: "Statements", opening: "Opening", closing: "Closing", account: "Account", reference: "Reference", totals: "Totals", settlement_payouts: "Settlement payout instructions", payee: "Payee account",
  line_payment: "payment", line_fee: "fee", line_refund: "refund", line_fee_returned: "fee returned", line_settlement: "settlement", line_payout: "payout",
  fee_min: "Minimum fee", fee_min_yuan: "Minimum fee (yuan)", fee_rate_bps: "Fee rate (bps)", change_fee: "Change fee", fee_changed: "Fee changed",
  settlement_runs: "Settlement runs", run_failed: "Failed", phase_settle: "settling groups", phase_payout: "executing payouts", phase_loading: "loading lines", phase_matching: "matching",
  phase_resolving: "resolving", phase_settling: "booking the network's settlement", phase_done: "done", phase_running: "in progress", phase_failed: "failed", records_created: "Records", payouts_created: "Payout instructions",
  lines_final: "with an outcome", api_keys: "API keys", revoke: "Revoke", expires: "Expires", lines_accepted: "accepted", batch: "Batch", error: "Error",
  kind_network_only: "Network only", kind_platform_only: "paycore only", kind_amount_mismatch: "Amount mismatch", kind_status_mismatch: "Status mismatch", kind_fee_mismatch: "Fee mismatch",
};

export type Key = keyof typeof zh;
export const DICTS: Record<Lang, typeof zh> = { zh, en };
export const LangContext = createContext<Lang>("zh");
export function useT(): (k: Key) => string {
  const lang = useContext(LangContext);
  return (k) => DICTS[lang][k];
}
