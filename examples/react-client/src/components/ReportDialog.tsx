import { useEffect, useRef, useState, type FormEvent } from 'react';
import { REPORT_REASONS, type ReportReason } from '../protocol';
import { useI18n } from '../i18nContext';

interface Props {
  open: boolean;
  onClose: () => void;
  onSubmit: (reason: ReportReason, note: string, skip: boolean) => void;
}

/** Report the current or most recent stranger: a reason, an optional note. */
export function ReportDialog({ open, onClose, onSubmit }: Props) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState<ReportReason>('spam');
  const [note, setNote] = useState('');
  const [skip, setSkip] = useState(true);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      setReason('spam');
      setNote('');
      setSkip(true);
      dialog.showModal();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit(reason, note, skip);
  };

  return (
    <dialog id="report-dialog" ref={ref} onClose={onClose} aria-labelledby="report-title">
      <form onSubmit={submit}>
        <h2 id="report-title">{t('reportTitle')}</h2>
        <label htmlFor="report-reason">{t('reportReason')}</label>
        <select id="report-reason" value={reason} onChange={(e) => setReason(e.target.value as ReportReason)}>
          {REPORT_REASONS.map((r) => (
            <option key={r} value={r}>
              {t(`reason_${r}`)}
            </option>
          ))}
        </select>
        <label htmlFor="report-note">{t('reportNote')}</label>
        <textarea
          id="report-note"
          rows={3}
          maxLength={500}
          placeholder={t('reportNotePh')}
          value={note}
          onChange={(e) => setNote(e.target.value)}
        />
        <label className="opt">
          <input type="checkbox" id="report-skip" checked={skip} onChange={(e) => setSkip(e.target.checked)} />
          <span>{t('reportSkip')}</span>
        </label>
        <div className="row">
          <button type="button" id="report-cancel" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" id="report-submit" className="primary">
            {t('reportSubmit')}
          </button>
        </div>
      </form>
    </dialog>
  );
}
